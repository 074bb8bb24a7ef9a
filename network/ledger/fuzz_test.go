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

// FuzzRestoreSnapshot: a corrupt snapshot stream fails cleanly.
func FuzzRestoreSnapshot(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 'k', 0, 0, 0, 1, 'v'})
	f.Add([]byte{0, 0, 0, 5, 'k'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	s, err := Open(f.TempDir(), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, b []byte) {
		// Errors are expected; panics and hangs are not. Metadata that
		// does not decode must be reported, not trusted.
		_ = s.RestoreSnapshot(bytes.NewReader(b))
	})
}
