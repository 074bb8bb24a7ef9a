// Package block defines what the ledger hashes and signs: block headers,
// transaction IDs, the Merkle tree over a block's transactions and results,
// and the signed transaction envelope.
//
// Hashes are SHA-256d (SHA-256 applied twice), as MeDShare and Bitcoin hash
// block headers, and are computed over canonical, length-prefixed byte
// strings with a domain tag, never over protobuf encodings (which are not
// canonical).
package block

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	"github.com/medshare/medshare/network/pb"
)

// Hash is a SHA-256 or SHA-256d digest.
type Hash = [32]byte

// Domain tags keep the hashes of different objects apart.
const (
	headerTag = "medshare/block-header/v1"
	leafTag   = "medshare/tx-leaf/v1"
	nodeTag   = "medshare/merkle-node/v1"
)

// Sha256d is SHA-256(SHA-256(b)).
func Sha256d(b []byte) Hash {
	h := sha256.Sum256(b)
	return sha256.Sum256(h[:])
}

// enc builds canonical byte strings: fixed-width big-endian integers and
// length-prefixed byte strings.
type enc struct{ b []byte }

func (e *enc) u8(v uint8)   { e.b = append(e.b, v) }
func (e *enc) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64) { e.b = binary.BigEndian.AppendUint64(e.b, v) }
func (e *enc) bytes(v []byte) {
	e.u32(uint32(len(v)))
	e.b = append(e.b, v...)
}
func (e *enc) str(v string) {
	e.u32(uint32(len(v)))
	e.b = append(e.b, v...)
}

// HeaderBytes is the canonical encoding of a header: what its hash covers.
func HeaderBytes(h *pb.BlockHeader) []byte {
	var e enc
	e.str(headerTag)
	e.u32(h.GetVersion())
	e.str(h.GetChannel())
	e.u64(h.GetNumber())
	e.bytes(h.GetPreviousHash())
	e.bytes(h.GetTxRoot())
	e.bytes(h.GetStateHash())
	e.u64(uint64(h.GetTimestamp()))
	e.str(h.GetCutter())
	return e.b
}

// HeaderHash is the block hash: SHA-256d of the canonical header.
func HeaderHash(h *pb.BlockHeader) Hash { return Sha256d(HeaderBytes(h)) }

// TxID is the transaction ID, as Fabric computes it: hex(SHA-256(nonce ‖
// creator)). A client can compute it before submitting.
func TxID(nonce, creator []byte) string {
	h := sha256.New()
	h.Write(nonce)
	h.Write(creator)
	return hex.EncodeToString(h.Sum(nil))
}

// Leaf is the Merkle leaf of one transaction: it commits to the signed
// envelope and to everything its execution produced (validation code,
// message, payload, writes, events), so nodes that disagree on any of these
// compute different tx roots.
func Leaf(envelope []byte, r *pb.TxResult) Hash {
	var e enc
	e.str(leafTag)
	envHash := sha256.Sum256(envelope)
	e.b = append(e.b, envHash[:]...)
	e.str(r.GetTxId())
	e.u32(uint32(r.GetCode()))
	e.str(r.GetMessage())
	e.bytes(r.GetPayload())
	e.u32(uint32(len(r.GetWrites())))
	for _, w := range r.GetWrites() {
		e.str(w.GetNamespace())
		e.str(w.GetKey())
		if w.GetDelete() {
			e.u8(1)
		} else {
			e.u8(0)
			e.bytes(w.GetValue())
		}
	}
	e.u32(uint32(len(r.GetEvents())))
	for _, ev := range r.GetEvents() {
		e.str(ev.GetChaincode())
		e.str(ev.GetName())
		e.bytes(ev.GetPayload())
	}
	return Sha256d(e.b)
}

// MerkleRoot computes the root of a binary Merkle tree over leaves. Inner
// nodes are SHA-256d(tag ‖ left ‖ right); an odd node at the end of a level is
// promoted unchanged rather than paired with itself, so no two different leaf
// lists share a root (the duplication flaw of Bitcoin's tree). The root of no
// leaves is SHA-256d of the node tag.
func MerkleRoot(leaves []Hash) Hash {
	if len(leaves) == 0 {
		return Sha256d([]byte(nodeTag))
	}
	level := append([]Hash(nil), leaves...)
	buf := make([]byte, 0, len(nodeTag)+64)
	for len(level) > 1 {
		next := level[:0]
		for i := 0; i < len(level); i += 2 {
			if i+1 == len(level) {
				next = append(next, level[i])
				continue
			}
			buf = append(buf[:0], nodeTag...)
			buf = append(buf, level[i][:]...)
			buf = append(buf, level[i+1][:]...)
			next = append(next, Sha256d(buf))
		}
		level = next
	}
	return level[0]
}

// TxRoot is the Merkle root over a block's transactions and their results,
// which must be of equal length.
func TxRoot(txs [][]byte, results []*pb.TxResult) Hash {
	leaves := make([]Hash, len(txs))
	for i := range txs {
		var r *pb.TxResult
		if i < len(results) {
			r = results[i]
		}
		leaves[i] = Leaf(txs[i], r)
	}
	return MerkleRoot(leaves)
}

// Cutter is the node identity that seals blocks.
type Cutter interface {
	Name() string
	MSPID() string
	Bytes() []byte
	SignDigest(digest []byte) ([]byte, error)
}

// Seal builds a block header over executed transactions and signs it. The
// returned block carries no results: Raft replicates it so, and each node
// attaches the results it computes.
func Seal(c Cutter, version uint32, channel string, number uint64, prev Hash, at int64, txs [][]byte, txRoot, stateHash Hash) (*pb.Block, error) {
	h := &pb.BlockHeader{
		Version:      version,
		Channel:      channel,
		Number:       number,
		PreviousHash: prev[:],
		TxRoot:       txRoot[:],
		StateHash:    stateHash[:],
		Timestamp:    at,
		Cutter:       c.Name(),
	}
	hash := HeaderHash(h)
	sig, err := c.SignDigest(hash[:])
	if err != nil {
		return nil, err
	}
	return &pb.Block{Header: h, Transactions: txs, Signature: sig, CutterMsp: c.MSPID(), CutterCert: c.Bytes()}, nil
}
