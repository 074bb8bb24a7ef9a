package credential

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

// TestSignLowS signs many digests: about half of Go's raw signatures are
// high-S, so both branches of the normalisation run.
func TestSignLowS(t *testing.T) {
	aa, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 32 {
		d := sha256.Sum256([]byte{byte(i)})
		sig, err := sign(rand.Reader, aa, d)
		if err != nil {
			t.Fatal(err)
		}
		if !canonicalLowS(sig) || !ecdsa.VerifyASN1(&aa.PublicKey, d[:], sig) {
			t.Fatalf("signature %d not canonical or not valid", i)
		}
	}
}

func TestCanonicalLowS(t *testing.T) {
	for _, tc := range []struct {
		name string
		sig  []byte
		ok   bool
	}{
		{"minimal", []byte{0x30, 6, 2, 1, 1, 2, 1, 1}, true},
		{"short", []byte{0x30, 4, 2, 1, 1, 2}, false},
		{"bad length", []byte{0x30, 7, 2, 1, 1, 2, 1, 1}, false},
		{"zero r", []byte{0x30, 6, 2, 1, 0, 2, 1, 1}, false},
		{"negative s", []byte{0x30, 6, 2, 1, 1, 2, 1, 0x81}, false},
		{"padded s", []byte{0x30, 7, 2, 1, 1, 2, 2, 0, 1}, false},
		{"padded high bit ok", []byte{0x30, 7, 2, 1, 1, 2, 2, 0, 0x81}, true},
		{"trailing", []byte{0x30, 7, 2, 1, 1, 2, 1, 1, 0}, false},
		{"not sequence", []byte{0x31, 6, 2, 1, 1, 2, 1, 1}, false},
	} {
		if got := canonicalLowS(tc.sig); got != tc.ok {
			t.Errorf("%s: canonicalLowS = %v", tc.name, got)
		}
	}
}
