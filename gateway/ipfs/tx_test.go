package ipfs_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/medshare/medshare/gateway/ipfs"
	"github.com/medshare/medshare/internal/kubo/kubotest"
)

// The gateway's upload pattern: AddTx, then commit when the ledger recorded
// the upload or undo when it did not.
func TestAddTx(t *testing.T) {
	s := kubotest.Start(t, 1, kubotest.Options{})
	api := s.Nodes[0].APIAddr()
	c := newClient(t, api)
	ctx := context.Background()

	t.Run("a failed upload leaves nothing pinned", func(t *testing.T) {
		before := pins(t, api)
		cid, _, undo, err := c.AddTx(ctx, random(t, 4<<10))
		if err != nil {
			t.Fatal(err)
		}
		if !isPinned(t, c, cid) {
			t.Fatal("AddTx did not pin")
		}
		if err := undo(ctx); err != nil {
			t.Fatal(err)
		}
		if after := pins(t, api); len(after) != len(before) || after[cid] {
			t.Fatalf("pins after undo: %d (were %d), %s pinned: %v", len(after), len(before), cid, after[cid])
		}
		if err := undo(ctx); err != nil {
			t.Fatalf("a second undo: %v", err)
		}
	})

	t.Run("a failed upload of a chunked object leaves nothing pinned", func(t *testing.T) {
		cid, _, undo, err := c.AddTx(ctx, random(t, ipfs.ChunkSize+1))
		if err != nil {
			t.Fatal(err)
		}
		if !isPinned(t, c, cid) {
			t.Fatal("AddTx did not pin")
		}
		if err := undo(ctx); err != nil {
			t.Fatal(err)
		}
		if isPinned(t, c, cid) {
			t.Fatal("still pinned after undo")
		}
	})

	t.Run("an oversized upload is refused and pins nothing", func(t *testing.T) {
		small := newClient(t, api, ipfs.WithMaxObjectSize(1000))
		before := pins(t, api)
		if _, _, _, err := small.AddTx(ctx, random(t, 1001)); !errors.Is(err, ipfs.ErrTooLarge) {
			t.Fatalf("AddTx of an oversized object: %v", err)
		}
		if after := pins(t, api); len(after) != len(before) {
			t.Fatal("a refused AddTx pinned something")
		}
	})

	t.Run("a committed upload stays pinned, and undo after commit does nothing", func(t *testing.T) {
		cid, commit, undo, err := c.AddTx(ctx, random(t, 4<<10))
		if err != nil {
			t.Fatal(err)
		}
		commit()
		if err := undo(ctx); err != nil {
			t.Fatal(err)
		}
		if !isPinned(t, c, cid) {
			t.Fatal("undo after commit unpinned")
		}
	})

	t.Run("a failed re-upload of stored bytes does not unpin them", func(t *testing.T) {
		stored := random(t, 2<<10)
		cid, err := c.Add(ctx, stored) // another record's ciphertext, or a follower's pin
		if err != nil {
			t.Fatal(err)
		}
		again, _, undo, err := c.AddTx(ctx, stored)
		if err != nil || again != cid {
			t.Fatalf("AddTx = %s, %v; want %s", again, err, cid)
		}
		if err := undo(ctx); err != nil {
			t.Fatal(err)
		}
		if !isPinned(t, c, cid) {
			t.Fatal("a failed upload of bytes already pinned unpinned them")
		}
	})

	t.Run("concurrent uploads of the same bytes: one commits, the other fails", func(t *testing.T) {
		data := random(t, 4<<10)
		var wg sync.WaitGroup
		cids := make([]string, 2)
		commits := make([]func(), 2)
		undos := make([]func(context.Context) error, 2)
		for i := range 2 {
			wg.Go(func() {
				var err error
				cids[i], commits[i], undos[i], err = c.AddTx(ctx, data)
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		commits[1]()
		if err := undos[0](ctx); err != nil {
			t.Fatal(err)
		}
		if !isPinned(t, c, cids[0]) {
			t.Fatal("the failed upload unpinned the committed one's object")
		}
	})

	t.Run("concurrent uploads of the same bytes that both fail leave nothing pinned", func(t *testing.T) {
		data := random(t, 4<<10)
		cid, _, undoA, err := c.AddTx(ctx, data)
		if err != nil {
			t.Fatal(err)
		}
		_, _, undoB, err := c.AddTx(ctx, data)
		if err != nil {
			t.Fatal(err)
		}
		if err := undoA(ctx); err != nil {
			t.Fatal(err)
		}
		if !isPinned(t, c, cid) {
			t.Fatal("unpinned while the other upload still holds it")
		}
		if err := undoB(ctx); err != nil {
			t.Fatal(err)
		}
		if isPinned(t, c, cid) {
			t.Fatal("still pinned after both uploads failed")
		}
	})

	t.Run("undo with kubo down reports it", func(t *testing.T) {
		cid, _, undo, err := c.AddTx(ctx, random(t, 100))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Nodes[0].Stop(); err != nil {
			t.Fatal(err)
		}
		if err := undo(ctx); !errors.Is(err, ipfs.ErrUnavailable) {
			t.Fatalf("undo with kubo down: %v, want ErrUnavailable (an orphan pin of %s to log)", err, cid)
		}
	})
}
