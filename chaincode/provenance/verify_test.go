package provenance_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/medshare/medshare/chaincode/internal/cctest"
	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/network/chaincode"
	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/state"
)

// thread builds a requestor's thread: request req-1 with three side-blocks
// (a permitted report, a forbidden one, the owner's re-grant), req-2 with one
// report, and req-3 with none.
func thread(t *testing.T) (*fixture, []provenance.RequestInput) {
	f := newFixture(t, "high")
	var ins []provenance.RequestInput
	for _, id := range []string{req1, req2, req3} {
		in := f.request(f.requestor, f.H1, id, []string{"read"}, nil, nil)
		f.Request(in)
		ins = append(ins, in)
		f.L.Advance(time.Minute)
	}
	f.Report(f.H1, f.report(f.H1, ins[0], 1, "decrypted", "read"))
	f.Report(f.H1, f.report(f.H1, ins[0], 2, "copy"))
	f.Must(f.H1, provenance.Name, "Regrant", req1, "first warning", f.decision(req1, provenance.KindRegrant, nil, "first warning"))
	f.Report(f.H2, f.report(f.H2, ins[1], 1, "read"))
	return f, ins
}

func key(t *testing.T, obj string, attrs ...string) string {
	k, err := chaincode.CreateCompositeKey(obj, attrs)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func seq(n uint64) string { return fmt.Sprintf("%020d", n) }

// edit decodes a stored value into v, lets change modify it and stores it
// back; it returns a function restoring the original.
// otherLastDigit changes the last hex digit of h (setting it to "0" left a
// hash ending in "0" unchanged, one run in sixteen).
func otherLastDigit(h string) string {
	if strings.HasSuffix(h, "0") {
		return h[:len(h)-1] + "1"
	}
	return h[:len(h)-1] + "0"
}

func edit[T any](t *testing.T, f *fixture, k string, change func(*T)) func() {
	t.Helper()
	orig, err := f.L.Store().Get(provenance.Name, k)
	if err != nil || orig == nil {
		t.Fatalf("no value at %q", k)
	}
	var v T
	if err := json.Unmarshal(orig, &v); err != nil {
		t.Fatal(err)
	}
	change(&v)
	b, err := json.Marshal(&v)
	if err != nil {
		t.Fatal(err)
	}
	f.L.Store().Set(provenance.Name, k, b)
	return func() { f.L.Store().Set(provenance.Name, k, orig) }
}

// reseal recomputes a side-block's Merkle root (over the stored side-blocks
// before it), hash and size, as a forger would.
func reseal(t *testing.T, f *fixture, requestID string, sb *provenance.SideBlock) {
	var hashes []string
	for i := uint64(1); i < sb.Index; i++ {
		b, _ := f.L.Store().Get(provenance.Name, key(t, "sb", requestID, seq(i)))
		var prev provenance.SideBlock
		if err := json.Unmarshal(b, &prev); err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, prev.TxHash())
	}
	root, err := provenance.SideMerkleRoot(append(hashes, sb.TxHash()))
	if err != nil {
		t.Fatal(err)
	}
	sb.Header.MerkleRoot = root
	if sb.Hash, sb.Size, err = sb.ComputeHash(); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyNamesTheBrokenLink(t *testing.T) {
	f, _ := thread(t)
	r := f.requestor.ID()
	pb := func(h uint64) string { return key(t, "pb", r, seq(h)) }
	sb := func(req string, i uint64) string { return key(t, "sb", req, seq(i)) }
	forger := f.H2
	tests := []struct {
		name   string
		tamper func() func()
		height uint64
		side   uint64
		link   string
		block  string
	}{
		{"parent transaction edited", func() func() {
			return edit(t, f, pb(2), func(b *provenance.ParentBlock) { b.Tx.DRP = "marketing" })
		}, 2, 0, "merkleRoot", "parent block 2 (request " + req2 + ")"},
		{"parent re-rooted", func() func() {
			return edit(t, f, pb(2), func(b *provenance.ParentBlock) {
				b.Tx.DRP = "marketing"
				b.Header.MerkleRoot = b.ComputeMerkleRoot()
			})
		}, 2, 0, "hash", "parent block 2 (request " + req2 + ")"},
		{"parent re-sealed", func() func() {
			return edit(t, f, pb(2), func(b *provenance.ParentBlock) {
				b.Tx.DRP = "marketing"
				if err := b.Seal(); err != nil {
					t.Fatal(err)
				}
			})
		}, 2, 0, "requestSignature", "parent block 2 (request " + req2 + ")"},
		{"parent forged by another node", func() func() {
			return edit(t, f, pb(2), func(b *provenance.ParentBlock) {
				b.Tx.TTP = b.Tx.TTP.Add(time.Millisecond)
				rd := provenance.RequestDigest(f.Channel, b.ID, b.Tx.RID, b.Tx.Requestor, b.Tx.RecordIDs, b.Tx.DRP, b.Tx.RequestTime, b.Contract.ReportKey)
				fd := provenance.FormDigest(f.Channel, b.ID, rd, b.Tx.TTR, b.Tx.TTP, b.Tx.TTS, b.Tx.DataID, hash32(b.Tx.PackageHash),
					provenance.MaskOf(b.Contract.Allowed), provenance.MaskOf(b.Contract.Ignored))
				b.Tx.Nsig, b.Tx.NID = cctest.SignBy(t, forger, fd), forger.ID()
				b.Tx.NodeCert = forger.Bytes()
				if err := b.Seal(); err != nil {
					t.Fatal(err)
				}
			})
		}, 2, 0, "nodeSignature", "parent block 2 (request " + req2 + ")"},
		{"parent re-linked", func() func() {
			return edit(t, f, pb(3), func(b *provenance.ParentBlock) {
				b.Header.PrevHash = b.Hash
				if err := b.Seal(); err != nil {
					t.Fatal(err)
				}
			})
		}, 3, 0, "prevHash", "parent block 3 (request " + req3 + ")"},
		{"side-block transaction edited", func() func() {
			return edit(t, f, sb(req1, 2), func(b *provenance.SideBlock) { b.Tx.Actions[0].Status = provenance.StatusPermitted })
		}, 1, 2, "merkleRoot", "side-block 2 (" + sideID(t, f, req1, 2) + ") of parent block 1 (request " + req1 + ")"},
		{"violation erased and re-sealed", func() func() {
			return edit(t, f, sb(req1, 2), func(b *provenance.SideBlock) {
				b.Tx.Actions[0].Status, b.Tx.VLN, b.ActionCounter = provenance.StatusPermitted, []string{}, 0
				reseal(t, f, req1, b)
			})
		}, 1, 2, "vln", "side-block 2 (" + sideID(t, f, req1, 2) + ") of parent block 1 (request " + req1 + ")"},
		{"report rewritten and re-sealed", func() func() {
			return edit(t, f, sb(req2, 1), func(b *provenance.SideBlock) {
				b.Tx.Actions[0].At = b.Tx.Actions[0].At.Add(time.Hour)
				reseal(t, f, req2, b)
			})
		}, 2, 1, "reportSignature", "side-block 1 (" + sideID(t, f, req2, 1) + ") of parent block 2 (request " + req2 + ")"},
		{"decision rewritten and re-sealed", func() func() {
			return edit(t, f, sb(req1, 3), func(b *provenance.SideBlock) {
				b.Tx.Reason = "no warning"
				reseal(t, f, req1, b)
			})
		}, 1, 3, "nodeSignature", "side-block 3 (" + sideID(t, f, req1, 3) + ") of parent block 1 (request " + req1 + ")"},
		{"side-block removed", func() func() {
			k := sb(req1, 3)
			orig, _ := f.L.Store().Get(provenance.Name, k)
			f.L.Store().Commit("tamper", f.L.Now(), []state.Write{{Namespace: provenance.Name, Key: k, Delete: true}})
			return func() { f.L.Store().Set(provenance.Name, k, orig) }
		}, 1, 3, "missing", "side-block 3 (" + sideID(t, f, req1, 3) + ") of parent block 1 (request " + req1 + ")"},
		{"side-block added", func() func() {
			k := sb(req2, 2)
			b, _ := f.L.Store().Get(provenance.Name, sb(req2, 1))
			f.L.Store().Set(provenance.Name, k, b)
			return func() {
				f.L.Store().Commit("restore", f.L.Now(), []state.Write{{Namespace: provenance.Name, Key: k, Delete: true}})
			}
		}, 2, 0, "state", "parent block 2 (request " + req2 + ")"},
		{"action counter", func() func() {
			return edit(t, f, key(t, "ps", req1), func(s *provenance.State) { s.ActionCounter = 0 })
		}, 1, 0, "actionCounter", "parent block 1 (request " + req1 + ")"},
		{"thread head", func() func() {
			return edit(t, f, key(t, "thread", r), func(th *provenance.Thread) { th.Hash = otherLastDigit(th.Hash) })
		}, 3, 0, "thread", "parent block 3"},
	}
	ok := cctest.Decode[provenance.Verification](t, f.Query(f.Auditor, provenance.Name, "VerifyThread", r, "", "1000"))
	if !ok.OK || ok.Checked != 7 {
		t.Fatalf("intact thread: %+v", ok)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			restore := tt.tamper()
			defer restore()
			v := cctest.Decode[provenance.Verification](t, f.Query(f.Auditor, provenance.Name, "VerifyThread", r, "", "1000"))
			b := v.Broken
			if v.OK || b == nil || b.Height != tt.height || b.Side != tt.side || b.Link != tt.link || b.Block != tt.block {
				t.Fatalf("verification = %+v, broken %+v\nwant %s at %s", v, b, tt.link, tt.block)
			}
			t.Logf("%s: %s", b.Block, b.Detail)
		})
	}
	if ok := cctest.Decode[provenance.Verification](t, f.Query(f.Auditor, provenance.Name, "VerifyThread", r, "", "1000")); !ok.OK {
		t.Fatalf("restored thread: %+v", ok.Broken)
	}
}

func sideID(t *testing.T, f *fixture, requestID string, i uint64) string {
	b, _ := f.L.Store().Get(provenance.Name, key(t, "sb", requestID, seq(i)))
	var sb provenance.SideBlock
	if err := json.Unmarshal(b, &sb); err != nil {
		t.Fatal(err)
	}
	return sb.ID
}

func TestVerifyPagesWithACursor(t *testing.T) {
	f, _ := thread(t)
	r := f.requestor.ID()
	cursor, total, calls := "", 0, 0
	for {
		v := cctest.Decode[provenance.Verification](t, f.Query(f.Auditor, provenance.Name, "VerifyThread", r, cursor, "2"))
		if !v.OK {
			t.Fatalf("page %d broken: %+v", calls, v.Broken)
		}
		total += v.Checked
		calls++
		if cursor = v.Next; cursor == "" {
			break
		}
	}
	if total != 7 || calls != 4 {
		t.Errorf("checked %d blocks in %d calls, want 7 in 4", total, calls)
	}
	// Start mid-request: the walk rebuilds the Merkle frontier before it.
	if v := cctest.Decode[provenance.Verification](t, f.Query(f.Auditor, provenance.Name, "VerifyThread", r, "1:3", "1")); !v.OK || v.Next != "2:0" {
		t.Errorf("from 1:3: %+v", v)
	}
	tests := []struct{ who, cursor, limit, want string }{
		{"auditor", "x", "10", `cursor: must be "" or the "height:side" a previous verification returned`},
		{"auditor", "9:0", "10", "cursor: height 9 is beyond the thread's head at 3"},
		{"auditor", "", "0", "limit: must be 1..1000, got 0"},
		{"h1", "", "10", "caller: only the user it concerns or an auditor the channel's configuration names may verify a requestor's thread"},
		{"admin", "", "10", "caller: only the user it concerns or an auditor the channel's configuration names may verify a requestor's thread"},
		{"requestor", "9:0", "10", "cursor: height 9 is beyond the thread's head at 3"}, // the requestor may walk its own thread
	}
	for _, tt := range tests {
		who := map[string]*identity.Signer{"auditor": f.Auditor, "h1": f.H1, "admin": f.Admin2, "requestor": f.requestor.Identity}[tt.who]
		_, err := f.L.Evaluate(who, provenance.Name, "VerifyThread", r, tt.cursor, tt.limit)
		cctest.WantErr(t, err, tt.want, nil)
	}
	_, err := f.L.Evaluate(f.Auditor, provenance.Name, "VerifyThread", cctest.NewKey(t).Hash(), "", "10")
	if err == nil {
		t.Error("verification of an unknown thread succeeded")
	}
}
