package medpkg

import (
	"bytes"
	"testing"
)

// FuzzParseEnvelope: any bytes. The decoder never panics, and an envelope
// it accepts is canonical: its encoding is the input.
func FuzzParseEnvelope(f *testing.F) {
	key, _ := GenerateKey(&stream{label: "fuzz"}, SuiteX25519)
	s, _ := Seal(&stream{label: "fuzz seal"}, testPackage(f, fixedReportKey(f)), key.Public()) // the same in every fuzzing worker
	f.Add(s.Bytes)
	f.Add(s.Bytes[:90])
	f.Add([]byte("MSPK\x01"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEnvelope(b)
		if err != nil {
			return
		}
		if !bytes.Equal(e.Bytes(), b) {
			t.Fatal("not canonical")
		}
		if !bytes.Equal(rebuild(e, func(*Envelope) {}), b) {
			t.Fatal("re-encoding differs")
		}
	})
}

// FuzzOpen: any bytes opened with a fixed key and request. Open never
// panics and opens only the genuine envelope.
func FuzzOpen(f *testing.F) {
	key, _ := GenerateKey(&stream{label: "fuzz"}, SuiteX25519)
	s, _ := Seal(&stream{label: "fuzz seal"}, testPackage(f, fixedReportKey(f)), key.Public()) // the same in every fuzzing worker
	f.Add(s.Bytes)
	f.Add(append(bytes.Clone(s.Bytes[:len(s.Bytes)-1]), s.Bytes[len(s.Bytes)-1]^1))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, _, err := Open(b, key, "req-1")
		if err == nil && (!bytes.Equal(b, s.Bytes) || p.DataID != "pkg-1") {
			t.Fatal("opened a package that was not sealed")
		}
	})
}
