package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/medshare/medshare/network/block"
	"github.com/medshare/medshare/network/lthash"
	"github.com/medshare/medshare/network/pb"
	"github.com/medshare/medshare/network/state"
)

// Rebuild writes a new store in dir holding blocks 0..keep-1 of s, with the
// world state, key history, transaction index and state hash rebuilt from
// those blocks alone: what an operator's recovery keeps of a damaged store
// (the node then fetches the later blocks from its peers again). Every block
// is checked on the way: it must extend the rebuilt chain, its transactions
// and stored results must give its header's tx root, and its results' writes
// the state hash in its header. The rebuilt store records no Raft index.
//
// dir must not exist. On error it is removed; s is never written.
func (s *Store) Rebuild(dir string, keep uint64) (err error) {
	if keep == 0 {
		return errors.New("ledger: rebuild: nothing to keep: not even the genesis block")
	}
	if h := s.Height(); keep > h {
		return fmt.Errorf("ledger: rebuild: %d blocks asked, the store holds %d", keep, h)
	}
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("ledger: rebuild: %s already exists", dir)
	}
	dst, err := Open(dir, s.log)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := dst.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	for n := range keep {
		b, err := s.Block(n)
		if err != nil {
			return err
		}
		if n == 0 {
			if _, err := dst.CommitGenesis(b); err != nil {
				return fmt.Errorf("ledger: rebuild: genesis: %w", err)
			}
			continue
		}
		if err := dst.replayStored(b); err != nil {
			return fmt.Errorf("ledger: rebuild: block %d: %w", n, err)
		}
	}
	return nil
}

// replayStored commits a block as it was stored, with its results, after
// checking its tx root and the state hash its writes produce.
func (s *Store) replayStored(b *pb.Block) error {
	h := b.GetHeader()
	if len(b.GetResults()) != len(b.GetTransactions()) {
		return fmt.Errorf("%d results for %d transactions", len(b.GetResults()), len(b.GetTransactions()))
	}
	if root := block.TxRoot(b.GetTransactions(), b.GetResults()); !bytes.Equal(root[:], h.GetTxRoot()) {
		return errors.New("its transactions and results do not give the tx root in its header")
	}
	overlay := state.NewOverlay(s)
	for _, r := range b.GetResults() {
		if r.GetCode() != pb.ValidationCode_VALID {
			continue
		}
		for _, w := range r.GetWrites() {
			overlay.Apply([]state.Write{{Namespace: w.GetNamespace(), Key: w.GetKey(), Value: w.GetValue(), Delete: w.GetDelete()}})
		}
	}
	writes := overlay.Writes()
	_, _, lt := s.Tip()
	for _, w := range writes {
		old, err := s.Get(w.Namespace, w.Key)
		if err != nil {
			return err
		}
		if old != nil {
			lt.Remove(lthash.Element(w.Namespace, w.Key, old))
		}
		if !w.Delete {
			lt.Add(lthash.Element(w.Namespace, w.Key, w.Value))
		}
	}
	if sum := lt.Sum(); !bytes.Equal(sum[:], h.GetStateHash()) {
		return errors.New("its results' writes do not give the state hash in its header")
	}
	return s.Commit(b, writes, lt, 0)
}
