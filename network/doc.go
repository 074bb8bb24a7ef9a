// Package network is medshare's permissioned, multi-channel ledger: the model
// of Hyperledger Fabric (organisations with X.509 CAs, channels, chaincode
// with a stub API, a gateway client) built on hashicorp/raft for ordering and
// cockroachdb/pebble for storage, because Fabric's own modules are not
// available to this project.
//
// The parts, bottom up:
//
//	identity   organisations' CAs, certificates with roles and attributes, signatures (MSP)
//	state      world-state reader interface and write overlays
//	chaincode  the Fabric-shaped contract API and the in-memory test ledger
//	block      what is hashed and signed: headers, tx IDs, Merkle roots, envelopes
//	lthash     the homomorphic hash of the world state carried in every header
//	channel    channel configuration, ACL and genesis blocks; YAML profiles
//	lifecycle  the _lifecycle system chaincode (approve by majority, commit)
//	executor   deterministic validation and execution of blocks (order-execute)
//	ledger     the pebble store: blocks, state, history, tx index; Verify
//	consensus  Raft per channel over one mutual-TLS transport; log store on pebble
//	chain      one channel on one node: cutter, FSM, forwarding, notifications
//	node       the node process: gRPC services, channel management, peer checks
//	client     the fabric-gateway-shaped client library
//	cryptogen  certificates and keys for a local network
//	nettest    real-process networks for integration tests and benchmarks
//
// See docs/ledger.md for the model, the trust assumptions and the mapping to
// Fabric's concepts.
package network
