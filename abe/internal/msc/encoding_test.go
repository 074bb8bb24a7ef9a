package msc

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"

	bls "github.com/cloudflare/circl/ecc/bls12381"

	"github.com/medshare/medshare/abe/policy"
)

func fixture(t testing.TB) (*Scheme, *PublicKey, *MasterKey, *UserKey, *Header) {
	s := New(64)
	pk, msk, err := s.Setup(rng(11))
	if err != nil {
		t.Fatal(err)
	}
	uk := keyFor(t, s, msk, "role=doctor", "trust>=1", "trust>=2")
	hdr, _, err := s.Encapsulate(rng(12), pk, hiddenRecord(t, "low: role = doctor; high: trust >= 2"))
	if err != nil {
		t.Fatal(err)
	}
	return s, pk, msk, uk, hdr
}

func TestEncodingRoundTrips(t *testing.T) {
	_, pk, msk, uk, hdr := fixture(t)

	b, _ := pk.MarshalBinary()
	if len(b) != PublicKeySize {
		t.Fatalf("public key %d bytes", len(b))
	}
	var pk2 PublicKey
	if err := pk2.UnmarshalBinary(b); err != nil || !pk2.Equal(pk) {
		t.Fatalf("public key: %v", err)
	}
	b, _ = msk.MarshalBinary()
	var msk2 MasterKey
	if err := msk2.UnmarshalBinary(b); err != nil || !msk2.Equal(msk) || !msk2.PublicKey().Equal(pk) {
		t.Fatalf("master key: %v", err)
	}
	b, _ = uk.MarshalBinary()
	var uk2 UserKey
	if err := uk2.UnmarshalBinary(b); err != nil || !uk2.Equal(uk) {
		t.Fatalf("user key: %v", err)
	}
	b, _ = hdr.MarshalBinary()
	hdr2, err := UnmarshalHeader(b)
	if err != nil || !hdr2.Equal(hdr) {
		t.Fatalf("header: %v", err)
	}
	if b2, _ := hdr2.MarshalBinary(); !bytes.Equal(b, b2) {
		t.Fatal("header re-encoding differs")
	}
}

func TestDecodingRejects(t *testing.T) {
	_, pk, msk, uk, hdr := fixture(t)
	pkb, _ := pk.MarshalBinary()
	mskb, _ := msk.MarshalBinary()
	ukb, _ := uk.MarshalBinary()
	hb, _ := hdr.MarshalBinary()
	decoders := map[string]func([]byte) error{
		"pk":     func(b []byte) error { var k PublicKey; return k.UnmarshalBinary(b) },
		"msk":    func(b []byte) error { var k MasterKey; return k.UnmarshalBinary(b) },
		"uk":     func(b []byte) error { var k UserKey; return k.UnmarshalBinary(b) },
		"header": func(b []byte) error { _, err := UnmarshalHeader(b); return err },
	}
	inputs := map[string][]byte{"pk": pkb, "msk": mskb, "uk": ukb, "header": hb}
	for name, in := range inputs {
		dec := decoders[name]
		for _, cut := range []int{0, 1, len(in) / 2, len(in) - 1} {
			if err := dec(in[:cut]); !errors.Is(err, ErrMalformed) {
				t.Errorf("%s truncated to %d: %v", name, cut, err)
			}
		}
		if err := dec(append(bytes.Clone(in), 0)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s with a trailing byte: %v", name, err)
		}
	}

	// Identity points are rejected.
	var id1 bls.G1
	id1.SetIdentity()
	bad := bytes.Clone(ukb)
	copy(bad, id1.BytesCompressed())
	if err := decoders["uk"](bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("identity D: %v", err)
	}
	// A point off the curve: flip a bit of the x-coordinate until decoding
	// fails (most flips do).
	bad = bytes.Clone(pkb)
	bad[20] ^= 1
	if err := decoders["pk"](bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("corrupted h: %v", err)
	}
	// Y of the wrong order.
	bad = bytes.Clone(pkb)
	bad[len(bad)-1] ^= 1
	if err := decoders["pk"](bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("corrupted Y: %v", err)
	}
	// Y = 1.
	var one bls.Gt
	one.SetIdentity()
	ob, _ := one.MarshalBinary()
	bad = append(bytes.Clone(pkb[:g2Len]), ob...)
	if err := decoders["pk"](bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("Y = 1: %v", err)
	}
	// Zero scalar.
	if err := decoders["msk"](make([]byte, MasterKeySize)); !errors.Is(err, ErrMalformed) {
		t.Errorf("zero master key: %v", err)
	}
	// Unsorted tags in a user key: swap the first two attribute records.
	bad = bytes.Clone(ukb)
	a0 := bytes.Clone(bad[g1Len+2 : g1Len+2+keyAttrSize])
	copy(bad[g1Len+2:], bad[g1Len+2+keyAttrSize:g1Len+2+2*keyAttrSize])
	copy(bad[g1Len+2+keyAttrSize:], a0)
	if err := decoders["uk"](bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("unsorted tags: %v", err)
	}
	// A header whose policy is not hidden.
	clear, _ := policy.ParseRecord("low: role = doctor; high: trust >= 2")
	cb, _ := clear.MarshalBinary()
	hdrClear := &Header{policy: clear, leaves: hdr.leaves, lvl: hdr.lvl}
	_ = cb
	if b, err := hdrClear.MarshalBinary(); err != nil {
		t.Fatal(err)
	} else if _, err := UnmarshalHeader(b); !errors.Is(err, ErrMalformed) {
		t.Errorf("clear header policy: %v", err)
	}
}

// TestGolden pins the encodings produced from a seeded generator, so that
// any change to the scheme or the formats is noticed.
func TestGolden(t *testing.T) {
	s := New(0)
	pk, msk, err := s.Setup(rng(42))
	if err != nil {
		t.Fatal(err)
	}
	uk, err := s.KeyGen(rng(43), msk, testTagKey.Tags([]string{"role=doctor", "trust>=1", "trust>=2"}))
	if err != nil {
		t.Fatal(err)
	}
	hdr, keys, err := s.Encapsulate(rng(44), pk, hiddenRecord(t, "low: role = doctor; medium: trust >= 2; high: 2 of (trust >= 3, identity >= 3, org = a)"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.New()
	for _, m := range []interface{ MarshalBinary() ([]byte, error) }{pk, msk, uk, hdr, &keys[0], &keys[1], &keys[2]} {
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		sum.Write(b)
	}
	const want = "c2b47b26c84db714775c9c39f86d2f7e00504420f994e644cabe802e816eaaee"
	if got := hex.EncodeToString(sum.Sum(nil)); got != want {
		t.Fatalf("golden digest %s, want %s", got, want)
	}
}
