package ledger_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/medshare/medshare/internal/kvstore"
	"github.com/medshare/medshare/network/ledger"
)

// historyKey is the store's key of the history entry of kv/key written by
// transaction tx of block n.
func historyKey(key string, n uint64, tx uint32) []byte {
	k := append([]byte("ykv\x00"), binary.BigEndian.AppendUint32(nil, uint32(len(key)))...)
	k = append(k, key...)
	k = binary.BigEndian.AppendUint64(k, n)
	return binary.BigEndian.AppendUint32(k, tx)
}

func (d tamperDB) set(t *testing.T, key, value []byte) {
	t.Helper()
	if err := d.db.Set(key, value, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

func (d tamperDB) del(t *testing.T, key []byte) {
	t.Helper()
	if err := d.db.Delete(key, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

// tamperAndVerify closes the chain's store, lets tamper edit its database,
// and verifies it, which must find a problem.
func (c *chain) tamperAndVerify(tamper func(t *testing.T, db tamperDB)) *ledger.Report {
	t := c.t
	t.Helper()
	c.store.Close()
	db, err := kvstore.Open(c.dir, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	tamper(t, tamperDB{db})
	db.Close()
	s, err := ledger.OpenReadOnly(c.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rep, err := s.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() {
		t.Fatal("tampering went unnoticed")
	}
	return rep
}

// TestVerifyCoversEveryKeyspace tampers with each keyspace the store serves
// from — blocks, the block-hash index, the transaction index, the world
// state, the history and the metadata — by changing, adding and removing
// entries, and checks that Verify reports it at the block concerned. It is
// the regression test for a flipped history value that made
// GetHistoryForKey return another value, and a forged index entry, both of
// which Verify passed.
func TestVerifyCoversEveryKeyspace(t *testing.T) {
	// Blocks 2..5 each put key-N=value-N with one transaction (index 0);
	// block 6 overwrites key-2.
	txIDs := map[int]string{}
	tests := []struct {
		name   string
		tamper func(t *testing.T, db tamperDB)
		block  uint64
		what   string
	}{
		{"history value flipped", func(t *testing.T, db tamperDB) {
			db.flipInValue(t, historyKey("key-3", 3, 0), []byte("value-3"))
		}, 3, "history entry of kv/key-3 differs"},
		{"history entry forged", func(t *testing.T, db tamperDB) {
			v := db.get(t, historyKey("key-2", 6, 0))
			db.set(t, historyKey("key-2", 4, 0), v)
		}, 4, "history entry of kv/key-2 at transaction 0 was written by no transaction"},
		{"history entry for a block that does not exist", func(t *testing.T, db tamperDB) {
			db.set(t, historyKey("key-9", 99, 0), db.get(t, historyKey("key-2", 2, 0)))
		}, 6, "names no block of the chain"},
		{"history entry removed", func(t *testing.T, db tamperDB) {
			db.del(t, historyKey("key-2", 6, 0))
		}, 6, "history entry of kv/key-2 is missing"},
		{"index entry forged for a transaction never committed", func(t *testing.T, db tamperDB) {
			db.set(t, []byte("t"+strings.Repeat("ab", 32)), db.get(t, []byte("t"+txIDs[4])))
		}, 4, "points at block 4, transaction 0, which is not it"},
		{"index entry naming no block", func(t *testing.T, db tamperDB) {
			loc := append(be64(77), 0, 0, 0, 0, 0, 0, 0, 0)
			db.set(t, []byte("t"+strings.Repeat("cd", 32)), loc)
		}, 6, "names no committed transaction"},
		{"index entry moved", func(t *testing.T, db tamperDB) {
			db.set(t, []byte("t"+txIDs[5]), db.get(t, []byte("t"+txIDs[3])))
		}, 5, "index entry of transaction " + "%5" + " says block 3"},
		{"index entry's code changed", func(t *testing.T, db tamperDB) {
			v := db.get(t, []byte("t"+txIDs[2]))
			v[15] ^= 0x0a
			db.set(t, []byte("t"+txIDs[2]), v)
		}, 2, "CHAINCODE_ERROR"},
		{"index entry removed", func(t *testing.T, db tamperDB) {
			db.del(t, []byte("t"+txIDs[3]))
		}, 3, "is missing from the index"},
		{"block-hash index entry forged", func(t *testing.T, db tamperDB) {
			db.set(t, append([]byte{'h'}, bytes.Repeat([]byte{7}, 32)...), be64(2))
		}, 6, "names no block with that hash"},
		{"block stored beyond the chain", func(t *testing.T, db tamperDB) {
			db.set(t, append([]byte{'b'}, be64(40)...), db.get(t, append([]byte{'b'}, be64(3)...)))
		}, 6, "block 40 is stored beyond the chain's last block"},
		{"state key added", func(t *testing.T, db tamperDB) {
			db.set(t, []byte("skv\x00planted"), []byte("x"))
		}, 6, "stored state key kv/planted was written by no block"},
		{"state key removed", func(t *testing.T, db tamperDB) {
			db.del(t, []byte("skv\x00key-4"))
		}, 4, "state key kv/key-4 that this block wrote is missing"},
		{"stored height", func(t *testing.T, db tamperDB) {
			db.set(t, []byte("mheight"), be64(3))
		}, 6, "stored height does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChain(t)
			for i := 2; i <= 5; i++ {
				tx, id := c.f.Tx(t, c.f.Orgs[0].Client, time.Now(), "kv", "Put", "key-"+itoa(i), "value-"+itoa(i))
				c.commit(time.Now(), tx)
				txIDs[i] = id
			}
			tx, _ := c.f.Tx(t, c.f.Orgs[1].Client, time.Now(), "kv", "Put", "key-2", "value-2b")
			c.commit(time.Now(), tx)
			if rep, err := c.store.Verify(context.Background()); err != nil || !rep.OK() {
				t.Fatalf("untampered store: %v %v", err, rep.Problems)
			}
			rep := c.tamperAndVerify(tt.tamper)
			what := strings.ReplaceAll(tt.what, "%5", txIDs[5])
			for _, p := range rep.Problems {
				if p.Block == tt.block && strings.Contains(p.What, what) {
					return
				}
			}
			t.Fatalf("problems %v; want one at block %d mentioning %q", rep.Problems, tt.block, what)
		})
	}
}
