package provenance

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/medshare/medshare/chaincode/internal/chainhash"
	"github.com/medshare/medshare/chaincode/internal/enc"
)

// Block formats and versions.
const (
	// ParentFormat names the parent block format. Version 2: the requestor
	// is a user id with the AA's enrolment of RID, and the node's
	// certificate replaces its bare key.
	ParentFormat = "medshare/parent/v2"
	// SideFormat names the side-block format (version 2: the forwarding
	// node's certificate and organisation replace its bare key).
	SideFormat = "medshare/side/v2"
	// HeaderVersion is the header version of both kinds of blocks.
	HeaderVersion = 1
)

// Side-block kinds.
const (
	// KindReport records an action report.
	KindReport = "report"
	// KindIgnore records the owner's new set of ignored actions (low
	// sensitivity only).
	KindIgnore = "ignore"
	// KindRegrant and KindRecall record the owner's decision after a
	// revocation.
	KindRegrant = "regrant"
	KindRecall  = "recall"
)

// Request statuses.
const (
	StatusActive    = "active"
	StatusRevoked   = "revoked"
	StatusRegranted = "regranted"
	StatusRecalled  = "recalled"
)

// Header is a block header, hashed with sha256d.
type Header struct {
	Version uint32 `json:"version"`
	// PrevHash is the hash of the previous block: the previous parent in
	// the requestor's thread (zeros for the first), or for a side-block the
	// previous side-block (the parent for the first).
	PrevHash string `json:"prevHash"`
	// MerkleRoot is the root over the block's transactions (a parent's
	// request and usage contract; for a side-block, the transactions of all
	// the parent's side-blocks up to and including it).
	MerkleRoot string    `json:"merkleRoot"`
	Timestamp  time.Time `json:"timestamp"`
}

// encode is the header's canonical encoding.
func (h *Header) encode(domain string) ([]byte, error) {
	prev, err := decodeHash(h.PrevHash)
	if err != nil {
		return nil, fmt.Errorf("prevHash: %w", err)
	}
	root, err := decodeHash(h.MerkleRoot)
	if err != nil {
		return nil, fmt.Errorf("merkleRoot: %w", err)
	}
	return enc.New(domain).Uint32(h.Version).Fixed(prev[:]).Fixed(root[:]).Time(h.Timestamp).Encoded(), nil
}

func decodeHash(s string) (chainhash.Hash, error) {
	var h chainhash.Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("not a 32-byte hex hash")
	}
	copy(h[:], b)
	return h, nil
}

func hexHash(h chainhash.Hash) string { return hex.EncodeToString(h[:]) }

// Contract is a package's usage contract.
type Contract struct {
	// Allowed are the permitted actions; "decrypted" always is.
	Allowed []string `json:"allowed"`
	// Ignored are actions the client need not report and the chaincode
	// drops (low sensitivity only).
	Ignored []string `json:"ignored,omitempty"`
	// ReportKey is the PKIX DER of the request's report key, which the
	// requestor generated and signed in its request (base64 in JSON).
	ReportKey []byte `json:"reportKey"`
}

func (c *Contract) encode() []byte {
	return enc.New("medshare/provenance/contract/v1").Uint32(uint32(MaskOf(c.Allowed))).
		Uint32(uint32(MaskOf(c.Ignored))).Bytes(c.ReportKey).Encoded()
}

// ParentTx is a parent block's transaction: the request and its processing.
type ParentTx struct {
	RequestID string `json:"requestID"`
	// TTR, TTP, TTS: when the request was received, processed, and the
	// package sent.
	TTR time.Time `json:"ttr"`
	TTP time.Time `json:"ttp"`
	TTS time.Time `json:"tts"`
	// OID is the data owner's identity; OwnerMSP its organisation.
	OID      string `json:"oid"`
	OwnerMSP string `json:"ownerMSP"`
	// RID is the requestor's public key (PKIX DER); Requestor the user id
	// the attribute authority bound it to, and Enrolment the AA's
	// signature over ptl.EnrolmentDigest(Requestor, RID).
	RID       []byte `json:"rid"`
	Requestor string `json:"requestor"`
	Enrolment []byte `json:"enrolment"`
	// Dsens is the sensitivity, DRP the purpose of the request.
	Dsens string `json:"dsens"`
	DRP   string `json:"drp"`
	// NID is the processing node's (the submitting gateway's, of
	// organisation OwnerMSP) identity, NodeCert its certificate (DER), Nsig
	// its signature over FormDigest. Verification checks NodeCert against
	// the channel's MSP and Nsig under its key.
	NID      string `json:"nid"`
	NodeCert []byte `json:"nodeCert"`
	Nsig     []byte `json:"nsig"`
	// The request itself: records, data id and package hash, and the
	// requestor's signature over RequestDigest.
	RecordIDs        []string  `json:"recordIDs"`
	DataID           string    `json:"dataID"`
	PackageHash      string    `json:"packageHash"`
	RequestTime      time.Time `json:"requestTime"`
	RequestSignature []byte    `json:"requestSignature"`
	// TxID is the ledger transaction that recorded the block.
	TxID string `json:"txID"`
}

func (t *ParentTx) encode() []byte {
	return enc.New("medshare/provenance/parent-tx/v2").String(t.RequestID).Time(t.TTR).Time(t.TTP).Time(t.TTS).
		String(t.OID).String(t.OwnerMSP).Bytes(t.RID).String(t.Requestor).Bytes(t.Enrolment).String(t.Dsens).String(t.DRP).
		String(t.NID).Bytes(t.NodeCert).Bytes(t.Nsig).Strings(t.RecordIDs).String(t.DataID).String(t.PackageHash).
		Time(t.RequestTime).Bytes(t.RequestSignature).String(t.TxID).Encoded()
}

// ParentBlock is one request in a requestor's thread. It never changes once
// written; the request's changing state is in State.
type ParentBlock struct {
	Format   string    `json:"format"`
	ID       string    `json:"id"`
	Height   uint64    `json:"height"`
	Size     int       `json:"size"`
	Header   Header    `json:"header"`
	Hash     string    `json:"hash"`
	Tx       ParentTx  `json:"tx"`
	Contract Contract  `json:"contract"`
	Locktime time.Time `json:"locktime"`
}

// Seal sets the Merkle root, hash and size of a parent block whose other
// fields are set.
func (b *ParentBlock) Seal() error {
	b.Header.MerkleRoot = b.ComputeMerkleRoot()
	hash, size, err := b.ComputeHash()
	if err != nil {
		return err
	}
	b.Hash, b.Size = hash, size
	return nil
}

// ComputeMerkleRoot returns the Merkle root over the block's two
// transactions: sha256d of the request's encoding and of the usage
// contract's.
func (b *ParentBlock) ComputeMerkleRoot() string {
	return hexHash(chainhash.MerkleRoot([]chainhash.Hash{chainhash.Sha256d(b.Tx.encode()), chainhash.Sha256d(b.Contract.encode())}))
}

// ComputeHash returns the block's hash, sha256d of its header's canonical
// encoding, and its size, the length of the block's canonical encoding (the
// action counter, which changes, is kept outside the block, in State).
func (b *ParentBlock) ComputeHash() (string, int, error) {
	h, n, err := b.digest()
	return hexHash(h), n, err
}

func (b *ParentBlock) digest() (chainhash.Hash, int, error) {
	header, err := b.Header.encode("medshare/provenance/parent-header/v1")
	if err != nil {
		return chainhash.Hash{}, 0, err
	}
	full := enc.New(ParentFormat).String(b.ID).Uint64(b.Height).Bytes(header).
		Bytes(b.Tx.encode()).Bytes(b.Contract.encode()).Time(b.Locktime).Encoded()
	return chainhash.Sha256d(header), len(full), nil
}

// ActionRecord is one reported action in a side-block.
type ActionRecord struct {
	Action string    `json:"action"`
	At     time.Time `json:"at"`
	// Status is "permitted", "violation" or "ignored".
	Status string `json:"status"`
}

// Action statuses.
const (
	StatusPermitted = "permitted"
	StatusViolation = "violation"
	StatusIgnored   = "ignored"
)

// SideTx is a side-block's transaction.
type SideTx struct {
	Kind string `json:"kind"`
	// TSV is the time of the (first) violation, else of the first action,
	// else of the decision.
	TSV time.Time `json:"tsv"`
	OID string    `json:"oid"`
	// Requestor is the requestor's user id.
	Requestor string `json:"requestor"`
	// Seq is the report's sequence number (0 for decisions).
	Seq     uint64         `json:"seq"`
	Actions []ActionRecord `json:"actions"`
	// VLN lists the forbidden actions of the report.
	VLN []string `json:"vln"`
	// Ignored is, for an "ignore" decision, the new set of ignored actions.
	Ignored []string `json:"ignored,omitempty"`
	// Reason is a decision's note.
	Reason string `json:"reason,omitempty"`
	// ReportSignature is the report key's signature over ReportDigest.
	ReportSignature []byte `json:"reportSignature,omitempty"`
	// NID is the submitting node's identity, NodeMSP its organisation,
	// NodeCert its certificate (DER) and Nsig its signature; verification
	// checks NodeCert against the channel's MSP.
	NID      string `json:"nid"`
	NodeMSP  string `json:"nodeMSP"`
	NodeCert []byte `json:"nodeCert"`
	Nsig     []byte `json:"nsig"`
	TxID     string `json:"txID"`
}

func (t *SideTx) encode() []byte {
	e := enc.New("medshare/provenance/side-tx/v2").String(t.Kind).Time(t.TSV).String(t.OID).String(t.Requestor).
		Uint64(t.Seq).Uint32(uint32(len(t.Actions)))
	for _, a := range t.Actions {
		e.String(a.Action).Time(a.At).String(a.Status)
	}
	return e.Strings(t.VLN).Strings(t.Ignored).String(t.Reason).Bytes(t.ReportSignature).
		String(t.NID).String(t.NodeMSP).Bytes(t.NodeCert).Bytes(t.Nsig).String(t.TxID).Encoded()
}

// SideBlock is a report or decision appended to a parent block.
type SideBlock struct {
	Format   string `json:"format"`
	ID       string `json:"id"`
	ParentID string `json:"parentID"`
	Index    uint64 `json:"index"`
	Size     int    `json:"size"`
	Header   Header `json:"header"`
	Hash     string `json:"hash"`
	// ActionCounter is the number of violations the block records.
	ActionCounter int       `json:"actionCounter"`
	Tx            SideTx    `json:"tx"`
	Locktime      time.Time `json:"locktime"`
}

// SideID derives a side-block's id from its parent's hash: the hash's first
// 16 hex digits, a dash, and the index.
func SideID(parentHash string, index uint64) string {
	prefix := parentHash
	if len(prefix) > 16 {
		prefix = prefix[:16]
	}
	return fmt.Sprintf("%s-%06d", prefix, index)
}

func (b *SideBlock) txHash() chainhash.Hash { return chainhash.Sha256d(b.Tx.encode()) }

// TxHash returns sha256d of the side-block's transaction encoding: its leaf
// in the Merkle tree over the parent's side-blocks.
func (b *SideBlock) TxHash() string { return hexHash(b.txHash()) }

// ComputeHash returns the side-block's hash, sha256d of its header's
// canonical encoding, and its size, the length of its canonical encoding.
func (b *SideBlock) ComputeHash() (string, int, error) {
	h, n, err := b.digest()
	return hexHash(h), n, err
}

// SideMerkleRoot returns the Merkle root over side-block transaction hashes
// (TxHash of side-blocks 1..n), as side-block n's header carries it.
func SideMerkleRoot(txHashes []string) (string, error) {
	var f chainhash.Frontier
	for i, s := range txHashes {
		h, err := decodeHash(s)
		if err != nil {
			return "", fmt.Errorf("tx hash %d: %w", i, err)
		}
		f.Append(h)
	}
	return hexHash(f.Root()), nil
}

func (b *SideBlock) digest() (chainhash.Hash, int, error) {
	header, err := b.Header.encode("medshare/provenance/side-header/v1")
	if err != nil {
		return chainhash.Hash{}, 0, err
	}
	full := enc.New(SideFormat).String(b.ID).String(b.ParentID).Uint64(b.Index).Bytes(header).
		Uint32(uint32(b.ActionCounter)).Bytes(b.Tx.encode()).Time(b.Locktime).Encoded()
	return chainhash.Sha256d(header), len(full), nil
}

// State is a request's changing state, kept beside its parent block.
type State struct {
	RequestID string `json:"requestID"`
	Requestor string `json:"requestor"`
	Height    uint64 `json:"height"`
	Hash      string `json:"hash"`
	Status    string `json:"status"`
	// ActionCounter is the number of violations in all side-blocks.
	ActionCounter uint64 `json:"actionCounter"`
	SideBlocks    uint64 `json:"sideBlocks"`
	LastSeq       uint64 `json:"lastSeq"`
	// LastHash is the hash of the last side-block (the parent's when none).
	LastHash string `json:"lastHash"`
	// Frontier holds the Merkle frontier over the side-blocks' transactions.
	Frontier []string `json:"frontier"`
	// Ignored is the current set of ignored actions.
	Ignored []string `json:"ignored"`
}

func (s *State) frontier() (chainhash.Frontier, error) {
	f := chainhash.Frontier{Size: s.SideBlocks}
	for _, p := range s.Frontier {
		h, err := decodeHash(p)
		if err != nil {
			return f, err
		}
		f.Peaks = append(f.Peaks, h)
	}
	if !f.Valid() {
		return f, fmt.Errorf("frontier of %d peaks for %d side-blocks", len(f.Peaks), s.SideBlocks)
	}
	return f, nil
}

func peaks(f *chainhash.Frontier) []string {
	out := make([]string, len(f.Peaks))
	for i, p := range f.Peaks {
		out[i] = hexHash(p)
	}
	return out
}
