// Package chaincode is the medshare contract suite (docs/chaincode.md):
//
//	index       channel main: side-chain registry, record index, request log
//	storage     each side channel: Tx_sto (address, wrapped keys, checkCode, sign)
//	ptl         each side channel: P-TL — policy validity check, monitoring, Tx_acc
//	provenance  each side channel: MeDShare parent blocks and side-blocks
//	ccerr       the error kinds every contract refuses with
//	txbuild     the client side: signed arguments of every transaction
//
// This package itself holds no code. Its integration test runs the suite on a
// real three-node network of medshare node processes (network/nettest),
// deployed as scripts/network.sh deploys it, and drives the flows of
// DESIGN.md end to end with arguments built by txbuild: records stored on
// the three side chains and indexed on main, granted and refused accesses,
// a MeDShare request with permitted and forbidden action reports, revocation
// on the next access, re-grant and recall. Every outcome is read back through
// a node of another organisation after the channel has converged.
package chaincode
