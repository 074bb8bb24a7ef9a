package ledger

import (
	"bytes"
	"testing"

	"github.com/medshare/medshare/network/pb"
)

// FuzzDecodeHistory: stored history entries decode or fail cleanly, and a
// decoded entry re-encodes to the same bytes.
func FuzzDecodeHistory(f *testing.F) {
	f.Add(encodeHistory("tx", 5, &pb.KVWrite{Value: []byte("v")}))
	f.Add(encodeHistory("tx", 5, &pb.KVWrite{Delete: true}))
	f.Add([]byte{0, 0, 0, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeHistory(b)
		if err != nil {
			return
		}
		re := encodeHistory(m.TxID, m.Timestamp.UnixNano(), &pb.KVWrite{Value: m.Value, Delete: m.IsDelete})
		if !bytes.Equal(re, b) {
			t.Fatalf("round trip: %x -> %x", b, re)
		}
	})
}
