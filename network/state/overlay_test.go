package state_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/medshare/medshare/network/state"
)

// TestOverlayMatchesReference applies random writes through two overlay
// layers over a MemStore and checks Get and every Range against a plain map.
func TestOverlayMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		base := state.NewMemStore()
		ref := map[string]string{}
		key := func() string { return fmt.Sprintf("k%02d", rng.IntN(30)) }
		var seed []state.Write
		for range 15 {
			k, v := key(), fmt.Sprint(rng.Int())
			seed = append(seed, state.Write{Namespace: "cc", Key: k, Value: []byte(v)})
			ref[k] = v
		}
		base.Commit("seed", time.Time{}, seed)
		block := state.NewOverlay(base)
		tx := state.NewOverlay(block)
		// Each layer's ops: a value, or nil for a deletion. The tx layer
		// shadows the block layer, which shadows the base.
		ops := []map[string]*string{{}, {}}
		for i := range 40 {
			layer, li := block, 0
			if i%2 == 1 {
				layer, li = tx, 1
			}
			k := key()
			if rng.IntN(3) == 0 {
				layer.Delete("cc", k)
				ops[li][k] = nil
			} else {
				v := fmt.Sprint(rng.Int())
				layer.Put("cc", k, []byte(v))
				ops[li][k] = &v
			}
			// A write to another namespace must never be visible in "cc".
			layer.Put("other", k, []byte("x"))
		}
		for _, layer := range ops {
			for k, v := range layer {
				if v == nil {
					delete(ref, k)
				} else {
					ref[k] = *v
				}
			}
		}
		for i := range 30 {
			k := fmt.Sprintf("k%02d", i)
			got, err := tx.Get("cc", k)
			if err != nil {
				t.Fatal(err)
			}
			if want, ok := ref[k]; (ok && string(got) != want) || (!ok && got != nil) {
				t.Fatalf("round %d: Get(%s) = %q, want %q (present %v)", round, k, got, want, ok)
			}
		}
		for _, r := range [][2]string{{"", ""}, {"k05", "k20"}, {"k10", ""}, {"k29", "k30"}, {"k07", "k07"}} {
			it, err := tx.Range("cc", r[0], r[1])
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for it.Next() {
				kv := it.KV()
				got = append(got, kv.Key+"="+string(kv.Value))
			}
			if err := it.Close(); err != nil {
				t.Fatal(err)
			}
			var want []string
			for k, v := range ref {
				if k >= r[0] && (r[1] == "" || k < r[1]) {
					want = append(want, k+"="+v)
				}
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("round %d: Range%v =\n%v\nwant\n%v", round, r, got, want)
			}
		}
	}
}

func TestOverlayWritesAreSortedAndCopied(t *testing.T) {
	o := state.NewOverlay(state.NewMemStore())
	v := []byte("v")
	o.Put("b", "2", v)
	o.Put("a", "9", v)
	o.Delete("a", "1")
	o.Put("b", "1", v)
	v[0] = 'X'
	got := o.Writes()
	want := []string{"a/1/del", "a/9/v", "b/1/v", "b/2/v"}
	var gs []string
	for _, w := range got {
		s := w.Namespace + "/" + w.Key + "/" + string(w.Value)
		if w.Delete {
			s = w.Namespace + "/" + w.Key + "/del"
		}
		gs = append(gs, s)
	}
	if !slices.Equal(gs, want) {
		t.Fatalf("Writes = %v, want %v", gs, want)
	}
}

func TestMemStoreHistoryNewestFirst(t *testing.T) {
	m := state.NewMemStore()
	t0 := time.Unix(100, 0)
	m.Commit("tx1", t0, []state.Write{{Namespace: "cc", Key: "k", Value: []byte("1")}})
	m.Commit("tx2", t0.Add(time.Second), []state.Write{{Namespace: "cc", Key: "k", Delete: true}})
	h, _ := m.History("cc", "k")
	if len(h) != 2 || h[0].TxID != "tx2" || !h[0].IsDelete || h[1].TxID != "tx1" || string(h[1].Value) != "1" {
		t.Fatalf("History = %+v", h)
	}
}
