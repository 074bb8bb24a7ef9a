package provenance

import (
	"crypto/ecdsa"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/arg"
	"github.com/medshare/medshare/chaincode/internal/chainhash"
	"github.com/medshare/medshare/chaincode/internal/invoke"
	"github.com/medshare/medshare/chaincode/internal/kv"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/network/chaincode"
)

// Verification is the result of re-walking a thread.
type Verification struct {
	// OK is true when every block checked is intact.
	OK bool `json:"ok"`
	// Requestor is the thread's requestor (a user id).
	Requestor string `json:"requestor"`
	// Checked counts the blocks checked (parents and side-blocks).
	Checked int `json:"checked"`
	// Next is the cursor to continue from when the call stopped at its
	// limit; "" when the walk reached the end.
	Next string `json:"next"`
	// Broken names the first broken link, when OK is false.
	Broken *Break `json:"broken,omitempty"`
}

// Break is a broken link of a thread.
type Break struct {
	// Height and RequestID identify the parent block; Side is the
	// side-block's index (0 for the parent itself) and SideID its id.
	Height    uint64 `json:"height"`
	RequestID string `json:"requestID,omitempty"`
	Side      uint64 `json:"side"`
	SideID    string `json:"sideID,omitempty"`
	// Block names the block in words.
	Block string `json:"block"`
	// Link is what does not hold: missing, format, id, height, requestor,
	// merkleRoot, hash, size, prevHash, requestSignature, enrolment,
	// nodeSignature, reportSignature, seq, vln, actionCounter, tx, kind,
	// state or thread.
	Link string `json:"link"`
	// Detail says how.
	Detail string `json:"detail"`
}

// walker re-walks one requestor's thread.
type walker struct {
	p         *Provenance
	stub      chaincode.Stub
	channel   string
	requestor string
	limit     int
	res       *Verification
	members   chaincode.Members // nil when the ledger does not provide them
}

func newWalker(p *Provenance, stub chaincode.Stub, requestor string, limit int) *walker {
	m, _ := chaincode.ChannelMembers(stub)
	return &walker{p: p, stub: stub, channel: stub.GetChannelID(), requestor: requestor, limit: limit,
		res: &Verification{Requestor: requestor}, members: m}
}

// nodeKey validates the certificate a block records for its node against
// the channel's MSP of organisation msp, at the block's time, checks that it
// names the block's node nid, and returns the key Nsig must verify under,
// or why it cannot be trusted.
func (w *walker) nodeKey(msp string, cert []byte, nid string, at time.Time) (*ecdsa.PublicKey, string) {
	if w.members == nil {
		return nil, "the channel's membership is not available to check the node's certificate"
	}
	id, err := w.members.Validate(msp, cert, at)
	if err != nil {
		return nil, fmt.Sprintf("the node's certificate is not a valid certificate of organisation %s at the block's time", msp)
	}
	if id.ID() != nid {
		return nil, fmt.Sprintf("the node's certificate names %s, not the block's node %s", id.ID(), nid)
	}
	return id.PublicKey(), ""
}

func (w *walker) fail(h uint64, requestID string, side uint64, sideID, link, format string, a ...any) {
	block := fmt.Sprintf("parent block %d", h)
	if requestID != "" {
		block += " (request " + requestID + ")"
	}
	if side > 0 {
		block = fmt.Sprintf("side-block %d (%s) of %s", side, sideID, block)
	}
	w.res.OK = false
	w.res.Broken = &Break{Height: h, RequestID: requestID, Side: side, SideID: sideID, Block: block, Link: link, Detail: fmt.Sprintf(format, a...)}
}

// full reports whether the call has checked as many blocks as it may, and
// if so records where to continue.
func (w *walker) full(h, side uint64) bool {
	if w.res.Checked < w.limit {
		return false
	}
	w.res.Next = fmt.Sprintf("%d:%d", h, side)
	return true
}

// parentHash reads parent h and returns the hash its header computes to.
func (w *walker) parentHash(h uint64) (*ParentBlock, string, bool, error) {
	var b ParentBlock
	ok, err := kv.Get(w.stub, objParent, []string{w.requestor, seq(h)}, &b)
	if err != nil || !ok {
		if err == nil {
			w.fail(h, "", 0, "", "missing", "the thread's head is at height %d but parent block %d is not in the world state", h, h)
		}
		return nil, "", false, err
	}
	hash, _, err := b.digest()
	if err != nil {
		w.fail(h, b.ID, 0, "", "hash", "the header does not decode: %v", err)
		return nil, "", false, nil
	}
	return &b, hexHash(hash), true, nil
}

// walk checks parents from height h (side-blocks from side, 0 meaning the
// parent itself) to the thread's head, or only parent h when one is set.
func (w *walker) walk(h, side uint64, one bool) error {
	var th Thread
	ok, err := kv.Get(w.stub, objThread, []string{w.requestor}, &th)
	if err != nil {
		return err
	}
	if !ok {
		return ccerr.NotFound("requestor", "no thread for requestor %s on %s", w.requestor, w.channel)
	}
	if h > th.Height {
		return ccerr.Invalid("cursor", "height %d is beyond the thread's head at %d", h, th.Height)
	}
	prev := hexHash(chainhash.Hash{})
	if h > 1 {
		_, hash, ok, err := w.parentHash(h - 1)
		if err != nil || !ok {
			return err
		}
		prev = hash
	}
	w.res.OK = true
	for ; h <= th.Height; h, side = h+1, 0 {
		b, hash, ok, err := w.parentHash(h)
		if err != nil || !ok {
			return err
		}
		if side == 0 {
			if w.full(h, 0) {
				return nil
			}
			if !w.checkParent(h, b, hash, prev) {
				return nil
			}
			w.res.Checked++
			side = 1
		}
		if done, err := w.checkSides(h, b, hash, side); err != nil || !done {
			return err
		}
		prev = hash
		if one {
			return nil
		}
	}
	if th.Hash != prev {
		w.fail(th.Height, "", 0, "", "thread", "the thread's head records hash %s but its last parent block hashes to %s", th.Hash, prev)
	}
	return nil
}

// checkParent checks parent block h, whose header hashes to hash, against the
// previous parent's hash.
func (w *walker) checkParent(h uint64, b *ParentBlock, hash, prev string) bool {
	id := b.ID
	switch {
	case b.Format != ParentFormat:
		w.fail(h, id, 0, "", "format", "format is %q, want %q", b.Format, ParentFormat)
	case b.Height != h:
		w.fail(h, id, 0, "", "height", "the block says height %d", b.Height)
	case b.ID != b.Tx.RequestID:
		w.fail(h, id, 0, "", "id", "the block id %s differs from its request id %s", b.ID, b.Tx.RequestID)
	case b.Tx.Requestor != w.requestor:
		w.fail(h, id, 0, "", "requestor", "the block's requestor is not the thread's %s", w.requestor)
	case b.Header.MerkleRoot != b.ComputeMerkleRoot():
		w.fail(h, id, 0, "", "merkleRoot", "the header's Merkle root %s does not match the block's transactions, which give %s", b.Header.MerkleRoot, b.ComputeMerkleRoot())
	case b.Hash != hash:
		w.fail(h, id, 0, "", "hash", "the block records hash %s but its header hashes to %s", b.Hash, hash)
	case b.Header.PrevHash != prev:
		w.fail(h, id, 0, "", "prevHash", "the header's previous hash %s is not the hash %s of parent block %d", b.Header.PrevHash, prev, h-1)
	default:
		if _, size, _ := b.digest(); size != b.Size {
			w.fail(h, id, 0, "", "size", "the block records size %d but encodes to %d bytes", b.Size, size)
			return false
		}
		return w.checkParentSignatures(h, b)
	}
	return false
}

func (w *walker) checkParentSignatures(h uint64, b *ParentBlock) bool {
	t := &b.Tx
	request := RequestDigest(w.channel, t.RequestID, t.RID, t.Requestor, t.RecordIDs, t.DRP, t.RequestTime, b.Contract.ReportKey)
	rkey, err := arg.PublicKey("rid", t.RID)
	if err != nil || w.p.sigs.Verify(rkey, request, t.RequestSignature) != nil {
		w.fail(h, b.ID, 0, "", "requestSignature", "the requestor's signature does not verify over the recorded request")
		return false
	}
	if _, err := invoke.Call[ptl.Enrolled](w.stub, ptlName, "CheckEnrolment", b64(t.RID), t.Requestor, b64(t.Enrolment)); err != nil {
		w.fail(h, b.ID, 0, "", "enrolment", "the attribute authority's enrolment does not bind the requestor's key to user %s", t.Requestor)
		return false
	}
	pkg, err := decodeHash(t.PackageHash)
	if err != nil {
		w.fail(h, b.ID, 0, "", "nodeSignature", "the package hash does not decode")
		return false
	}
	nkey, bad := w.nodeKey(t.OwnerMSP, t.NodeCert, t.NID, b.Locktime)
	if bad != "" {
		w.fail(h, b.ID, 0, "", "nodeSignature", "%s", bad)
		return false
	}
	form := FormDigest(w.channel, t.RequestID, request, t.TTR, t.TTP, t.TTS, t.DataID, pkg, MaskOf(b.Contract.Allowed), MaskOf(b.Contract.Ignored))
	if w.p.sigs.Verify(nkey, form, t.Nsig) != nil {
		w.fail(h, b.ID, 0, "", "nodeSignature", "the processing node's signature (Nsig) does not verify over the recorded form")
		return false
	}
	return true
}

// sideWalk is the running state of a walk through one parent's side-blocks.
type sideWalk struct {
	frontier chainhash.Frontier
	prev     string // hash of the previous side-block (the parent's first)
	ignored  Mask
	counter  uint64
	seq      uint64
}

func (s *sideWalk) advance(sb *SideBlock, hash string) {
	s.frontier.Append(sb.txHash())
	s.prev = hash
	s.counter += uint64(sb.ActionCounter)
	switch sb.Tx.Kind {
	case KindIgnore:
		s.ignored = MaskOf(sb.Tx.Ignored)
	case KindReport:
		s.seq = sb.Tx.Seq
	}
}

// checkSides checks parent h's side-blocks from index from, then the
// request's state. It returns false when the walk must stop.
func (w *walker) checkSides(h uint64, b *ParentBlock, hash string, from uint64) (bool, error) {
	var st State
	ok, err := kv.Get(w.stub, objState, []string{b.ID}, &st)
	if err != nil {
		return false, err
	}
	bad := ""
	switch {
	case !ok:
		bad = "the request's state is missing"
	case st.Height != h || st.Requestor != w.requestor:
		bad = fmt.Sprintf("the request's state names parent block %d of thread %s", st.Height, st.Requestor)
	case st.Hash != hash:
		bad = fmt.Sprintf("the request's state records hash %s for its parent block, which hashes to %s", st.Hash, hash)
	}
	if bad != "" {
		w.fail(h, b.ID, 0, "", "state", "%s", bad)
		return false, nil
	}
	s := &sideWalk{prev: hash, ignored: MaskOf(b.Contract.Ignored)}
	for k := uint64(1); k <= st.SideBlocks; k++ {
		sb, sbHash, ok, err := w.side(h, b, k)
		if err != nil || !ok {
			return false, err
		}
		if k >= from {
			if w.full(h, k) {
				return false, nil
			}
			if !w.checkSide(h, b, k, sb, sbHash, s) {
				return false, nil
			}
			w.res.Checked++
		}
		s.advance(sb, sbHash)
	}
	var extra SideBlock
	if ok, err := kv.Get(w.stub, objSide, []string{b.ID, seq(st.SideBlocks + 1)}, &extra); err != nil || ok {
		if ok {
			w.fail(h, b.ID, 0, "", "state", "side-block %d exists beyond the %d the request's state counts", st.SideBlocks+1, st.SideBlocks)
		}
		return false, err
	}
	switch {
	case st.ActionCounter != s.counter:
		w.fail(h, b.ID, 0, "", "actionCounter", "the request's action counter is %d but its side-blocks record %d violations", st.ActionCounter, s.counter)
	case st.LastHash != s.prev || !slices.Equal(st.Frontier, peaks(&s.frontier)):
		w.fail(h, b.ID, 0, "", "state", "the request's state does not match its side-blocks (last hash %s, recomputed %s)", st.LastHash, s.prev)
	default:
		return true, nil
	}
	return false, nil
}

// side reads side-block k and returns the hash its header computes to.
func (w *walker) side(h uint64, b *ParentBlock, k uint64) (*SideBlock, string, bool, error) {
	var sb SideBlock
	ok, err := kv.Get(w.stub, objSide, []string{b.ID, seq(k)}, &sb)
	if err != nil || !ok {
		if err == nil {
			w.fail(h, b.ID, k, SideID(b.Hash, k), "missing", "the request's state counts it but it is not in the world state")
		}
		return nil, "", false, err
	}
	hash, _, err := sb.digest()
	if err != nil {
		w.fail(h, b.ID, k, sb.ID, "hash", "the header does not decode: %v", err)
		return nil, "", false, nil
	}
	return &sb, hexHash(hash), true, nil
}

// checkSide checks side-block k of parent h against the walk so far.
func (w *walker) checkSide(h uint64, b *ParentBlock, k uint64, sb *SideBlock, hash string, s *sideWalk) bool {
	fail := func(link, format string, a ...any) bool {
		w.fail(h, b.ID, k, sb.ID, link, format, a...)
		return false
	}
	next := s.frontier
	next.Peaks = slices.Clone(s.frontier.Peaks)
	next.Append(sb.txHash())
	switch {
	case sb.Format != SideFormat:
		return fail("format", "format is %q, want %q", sb.Format, SideFormat)
	case sb.Index != k || sb.ParentID != b.ID || sb.ID != SideID(b.Hash, k):
		return fail("id", "the block's id %s, index %d or parent %s is not side-block %d of %s", sb.ID, sb.Index, sb.ParentID, k, b.ID)
	case sb.Header.MerkleRoot != hexHash(next.Root()):
		return fail("merkleRoot", "the header's Merkle root %s does not match the side-blocks' transactions, which give %s", sb.Header.MerkleRoot, hexHash(next.Root()))
	case sb.Hash != hash:
		return fail("hash", "the block records hash %s but its header hashes to %s", sb.Hash, hash)
	case sb.Header.PrevHash != s.prev:
		return fail("prevHash", "the header's previous hash %s is not the hash %s of the block before it", sb.Header.PrevHash, s.prev)
	case sb.ActionCounter != len(sb.Tx.VLN):
		return fail("actionCounter", "the block counts %d violations but lists %d", sb.ActionCounter, len(sb.Tx.VLN))
	case sb.Tx.OID != b.Tx.OID || sb.Tx.Requestor != w.requestor:
		return fail("tx", "the block's owner or requestor differs from its parent's")
	}
	if _, size, _ := sb.digest(); size != sb.Size {
		return fail("size", "the block records size %d but encodes to %d bytes", sb.Size, size)
	}
	nkey, bad := w.nodeKey(sb.Tx.NodeMSP, sb.Tx.NodeCert, sb.Tx.NID, sb.Locktime)
	if bad != "" {
		return fail("nodeSignature", "%s", bad)
	}
	var digest [32]byte
	switch sb.Tx.Kind {
	case KindReport:
		if sb.Tx.Seq <= s.seq {
			return fail("seq", "report %d does not follow report %d", sb.Tx.Seq, s.seq)
		}
		allowed := MaskOf(b.Contract.Allowed)
		names, ats, vln := make([]string, len(sb.Tx.Actions)), make([]time.Time, len(sb.Tx.Actions)), []string{}
		for i, a := range sb.Tx.Actions {
			names[i], ats[i] = a.Action, a.At
			if want := classify(a.Action, allowed, s.ignored); a.Status != want {
				return fail("vln", "action %d (%s) is marked %s but the contract makes it %s", i, a.Action, a.Status, want)
			}
			if a.Status == StatusViolation {
				vln = append(vln, a.Action)
			}
		}
		if !slices.Equal(vln, sb.Tx.VLN) {
			return fail("vln", "the block lists violations %v but its actions give %v", sb.Tx.VLN, vln)
		}
		pkg, err := decodeHash(b.Tx.PackageHash)
		rkey, kerr := arg.PublicKey("reportKey", b.Contract.ReportKey)
		digest = ReportDigest(w.channel, b.ID, pkg, sb.Tx.Seq, names, ats)
		if err != nil || kerr != nil || w.p.sigs.Verify(rkey, digest, sb.Tx.ReportSignature) != nil {
			return fail("reportSignature", "the report key's signature does not verify over the recorded report")
		}
	case KindIgnore, KindRegrant, KindRecall:
		digest = DecisionDigest(w.channel, b.ID, sb.Tx.Kind, MaskOf(sb.Tx.Ignored), sb.Tx.Reason)
	default:
		return fail("kind", "unknown side-block kind %q", sb.Tx.Kind)
	}
	if w.p.sigs.Verify(nkey, digest, sb.Tx.Nsig) != nil {
		return fail("nodeSignature", "the node's signature (Nsig) does not verify over the recorded %s", sb.Tx.Kind)
	}
	return true
}

// parseCursor reads a cursor "height:side"; "" starts at the beginning.
func parseCursor(c string) (uint64, uint64, error) {
	if c == "" {
		return 1, 0, nil
	}
	hs, ss, ok := strings.Cut(c, ":")
	h, err1 := strconv.ParseUint(hs, 10, 64)
	s, err2 := strconv.ParseUint(ss, 10, 64)
	if !ok || err1 != nil || err2 != nil || h == 0 {
		return 0, 0, ccerr.Invalid("cursor", "must be \"\" or the \"height:side\" a previous verification returned")
	}
	return h, s, nil
}

// VerifyThread re-walks a requestor's (key-hash or base64 key) thread from
// cursor ("" for the start), checking up to limit (1..1000) blocks: every
// parent block's Merkle root, header hash, size, link to the previous parent
// and signatures (requestor, Nsig); every side-block's id, Merkle root over
// the side-blocks so far, hash, link to the block before it, violations
// against the usage contract and signatures (report key, Nsig); each
// request's state and the thread's head. Signatures are checked with the
// keys of the requestor's enrolment and of the nodes' certificates as the
// channel's MSPs validate them. It reports the first broken link, or a
// cursor to continue. The requestor (a user id) and the configured auditors
// may walk a thread.
func (p *Provenance) VerifyThread(ctx chaincode.TransactionContext, requestor, cursor string, limit int32) (*Verification, error) {
	if _, err := p.threadReader(ctx, requestor, "verify a requestor's thread"); err != nil {
		return nil, err
	}
	rh := requestor
	h, s, err := parseCursor(cursor)
	if err != nil {
		return nil, err
	}
	if limit < 1 || limit > MaxVerifyBlocks {
		return nil, ccerr.Invalid("limit", "must be 1..%d, got %d", MaxVerifyBlocks, limit)
	}
	w := newWalker(p, ctx.GetStub(), rh, int(limit))
	return w.res, w.walk(h, s, false)
}

// VerifyRequest re-walks one request: its parent block (with its link to the
// previous parent in the thread) and all of its side-blocks. Its owner, its
// requestor and the configured auditors may verify it.
func (p *Provenance) VerifyRequest(ctx chaincode.TransactionContext, requestID string) (*Verification, error) {
	_, st, err := p.readable(ctx, requestID)
	if err != nil {
		return nil, err
	}
	w := newWalker(p, ctx.GetStub(), st.Requestor, MaxSideBlocks+1)
	return w.res, w.walk(st.Height, 0, true)
}
