package block

import (
	"bytes"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/medshare/medshare/network/pb"
)

// FuzzCanonicalIsMarshal checks canonical against its definition: bytes that
// decode are canonical exactly when the message has no unknown fields and
// deterministic marshalling turns it back into the same bytes. (Bytes that
// do not decode are refused before canonical is asked.)
func FuzzCanonicalIsMarshal(f *testing.F) {
	p := &pb.Proposal{Version: 1, Channel: "main", Chaincode: "kv", Args: [][]byte{[]byte("Put"), {}, []byte("v")},
		MspId: "H1MSP", Creator: []byte("cert"), Nonce: bytes.Repeat([]byte{7}, 16), Timestamp: time.Unix(1, 0).UnixNano()}
	raw, _ := proto.Marshal(p)
	f.Add(raw)
	f.Add(append(raw, 0x08, 0x01))
	f.Add([]byte{0x08, 0x81, 0x00})
	f.Add([]byte{0x40, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(name string, m proto.Message, fields []fieldSpec) {
			if proto.Unmarshal(b, m) != nil {
				return
			}
			want := false
			if len(m.ProtoReflect().GetUnknown()) == 0 {
				out, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
				want = err == nil && bytes.Equal(out, b)
			}
			if got := canonical(b, fields); got != want {
				t.Fatalf("%s: canonical(% x) = %v, want %v", name, b, got, want)
			}
		}
		check("proposal", new(pb.Proposal), proposalFields)
		check("envelope", new(pb.Envelope), envelopeFields)
	})
}
