package credential_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"github.com/medshare/medshare/abe/credential"
)

func unmarshal(b []byte) (*credential.Disclosure, error) { return credential.UnmarshalDisclosure(b) }

func issue(f *fixture) (*credential.Wallet, error) {
	return credential.Issue(rand.Reader, f.aa, f.subject, 1, t0, t1, f.tags)
}

// fuzzFixture is newFixture with fixed keys: every fuzz worker process
// runs the target's setup, and the seeds the coordinator hands out must
// verify in every worker, so nothing may depend on fresh randomness. (ECDSA
// signatures stay randomised; any valid one verifies.)
func fuzzFixture(tb testing.TB, ntags int) *fixture {
	tb.Helper()
	raw := func(b byte) *ecdsa.PrivateKey {
		d := make([]byte, 32)
		d[31] = b
		k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
		if err != nil {
			tb.Fatal(err)
		}
		return k
	}
	return fixtureWith(tb, raw(1), raw(2), ntags)
}

// FuzzUnmarshalDisclosure checks that decoding never panics, that accepted
// input re-encodes identically, and that Verify never panics and accepts
// only what the holder could have disclosed: the issued credential (any
// valid signature on it) with proofs that are exactly proofs the wallet
// issues, and returns exactly their tags.
func FuzzUnmarshalDisclosure(f *testing.F) {
	fx := fuzzFixture(f, 6)
	all, err := fx.wallet.Disclose(fx.tags)
	if err != nil {
		f.Fatal(err)
	}
	issued := map[credential.Proof]bool{}
	for _, p := range all.Proofs {
		issued[p] = true
	}
	want := fx.wallet.Credential()
	for _, n := range []int{1, 2} {
		d, _ := fx.wallet.Disclose(fx.tags[:n])
		good, _ := d.MarshalBinary()
		f.Add(good)
		if n == 2 {
			f.Add(good[:40])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := credential.UnmarshalDisclosure(b)
		if err != nil {
			return
		}
		out, err := d.MarshalBinary()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("re-encoding differs: %v", err)
		}
		tags, err := d.Verify(&fx.aa.PublicKey, t0.Add(time.Minute))
		if err != nil {
			return
		}
		c := d.Credential
		if !bytes.Equal(c.Subject, want.Subject) || c.Epoch != want.Epoch || !c.NotBefore.Equal(want.NotBefore) ||
			!c.NotAfter.Equal(want.NotAfter) || c.Root != want.Root {
			t.Fatalf("a credential the authority did not issue verified: %+v", c)
		}
		if len(tags) != len(d.Proofs) {
			t.Fatalf("Verify returned %d tags for %d proofs", len(tags), len(d.Proofs))
		}
		for i, p := range d.Proofs {
			if !issued[p] {
				t.Fatalf("proof %d (tag %s) is not one the wallet issues, yet it verified", i, p.Tag)
			}
			if tags[i] != p.Tag {
				t.Fatalf("Verify returned tag %s for proof of %s", tags[i], p.Tag)
			}
		}
	})
}

// FuzzUnmarshalWallet checks that the wallet decoder never panics and that
// accepted input re-encodes identically.
func FuzzUnmarshalWallet(f *testing.F) {
	fx := fuzzFixture(f, 3)
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
