package credential_test

import (
	"bytes"
	"crypto/rand"
	"testing"
	"time"

	"github.com/medshare/medshare/abe/credential"
)

func unmarshal(b []byte) (*credential.Disclosure, error) { return credential.UnmarshalDisclosure(b) }

func issue(f *fixture) (*credential.Wallet, error) {
	return credential.Issue(rand.Reader, f.aa, f.subject, 1, t0, t1, f.tags)
}

// FuzzUnmarshalDisclosure checks that decoding never panics, that accepted
// input re-encodes identically, and that Verify never panics on it and never
// accepts a mutated disclosure.
func FuzzUnmarshalDisclosure(f *testing.F) {
	fx := newFixture(f, 6)
	d, _ := fx.wallet.Disclose(fx.tags[:2])
	good, _ := d.MarshalBinary()
	f.Add(good)
	f.Add(good[:40])
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := credential.UnmarshalDisclosure(b)
		if err != nil {
			return
		}
		out, err := d.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
		_, err = d.Verify(&fx.aa.PublicKey, t0.Add(time.Minute))
		if err == nil && !bytes.Equal(b, good) {
			// Only byte-identical input may verify, except for a proof
			// reordering, which is the same disclosure.
			d2, _ := credential.UnmarshalDisclosure(good)
			if len(d.Proofs) != len(d2.Proofs) {
				t.Fatalf("a mutated disclosure verified")
			}
		}
	})
}

// FuzzUnmarshalWallet checks that the wallet decoder never panics and that
// accepted input re-encodes identically.
func FuzzUnmarshalWallet(f *testing.F) {
	fx := newFixture(f, 3)
	good, _ := fx.wallet.MarshalBinary()
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := credential.UnmarshalWallet(b)
		if err != nil {
			return
		}
		out, err := w.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}
