package sigcheck

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"math/big"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/medshare/medshare/network/identity"
)

func TestVerifyCachesSuccessesOnly(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := sha256.Sum256([]byte("m"))
	sig, err := identity.SignDigest(rand.Reader, k, d[:])
	if err != nil {
		t.Fatal(err)
	}
	v := New(8)
	for range 2 {
		if err := v.Verify(&k.PublicKey, d, sig); err != nil {
			t.Fatal(err)
		}
	}
	if v.cache.Len() != 1 {
		t.Errorf("cache holds %d entries, want 1", v.cache.Len())
	}
	other := sha256.Sum256([]byte("n"))
	if err := v.Verify(&k.PublicKey, other, sig); !errors.Is(err, identity.ErrBadSignature) {
		t.Errorf("wrong digest: %v", err)
	}
	// The high-S twin of a valid signature is refused, cached or not.
	var inner cryptobyte.String
	r, s := new(big.Int), new(big.Int)
	in := cryptobyte.String(sig)
	in.ReadASN1(&inner, cbasn1.SEQUENCE)
	inner.ReadASN1Integer(r)
	inner.ReadASN1Integer(s)
	s.Sub(elliptic.P256().Params().N, s)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1BigInt(r); b.AddASN1BigInt(s) })
	high := b.BytesOrPanic()
	if err := v.Verify(&k.PublicKey, d, high); !errors.Is(err, identity.ErrBadSignature) {
		t.Errorf("high-S signature: %v", err)
	}
	if v.cache.Len() != 1 {
		t.Errorf("failures were cached: %d entries", v.cache.Len())
	}
}
