package medpkg

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"
)

func TestKeyBinding(t *testing.T) {
	rid := newReportKey(t) // any P-256 key: the requestor's request key
	other := newReportKey(t)
	keys, err := NewRequestKeys(rand.Reader, SuiteX25519)
	if err != nil {
		t.Fatal(err)
	}
	rd := sha256.Sum256([]byte("request digest"))
	sig, err := SignKeyBinding(rid, "side-medium", "u1:req-1", rd, keys.Package.Public())
	if err != nil {
		t.Fatal(err)
	}
	pk, err := VerifyKeyBinding(rid.DER, "side-medium", "u1:req-1", rd, keys.Package.Public().Bytes(), sig)
	if err != nil || pk.ID() != keys.Package.Public().ID() {
		t.Fatalf("genuine binding: %v", err)
	}
	// A substituted package key, another request, another channel, another
	// request digest, another signer: refused.
	mitm, _ := GenerateKey(rand.Reader, SuiteX25519)
	cases := map[string]func() error{
		"substituted key": func() error {
			_, err := VerifyKeyBinding(rid.DER, "side-medium", "u1:req-1", rd, mitm.Public().Bytes(), sig)
			return err
		},
		"other request": func() error {
			_, err := VerifyKeyBinding(rid.DER, "side-medium", "u1:req-2", rd, keys.Package.Public().Bytes(), sig)
			return err
		},
		"other channel": func() error {
			_, err := VerifyKeyBinding(rid.DER, "side-high", "u1:req-1", rd, keys.Package.Public().Bytes(), sig)
			return err
		},
		"other digest": func() error {
			_, err := VerifyKeyBinding(rid.DER, "side-medium", "u1:req-1", sha256.Sum256(nil), keys.Package.Public().Bytes(), sig)
			return err
		},
		"other signer": func() error {
			_, err := VerifyKeyBinding(other.DER, "side-medium", "u1:req-1", rd, keys.Package.Public().Bytes(), sig)
			return err
		},
		"not a key": func() error {
			_, err := VerifyKeyBinding([]byte("x"), "side-medium", "u1:req-1", rd, keys.Package.Public().Bytes(), sig)
			return err
		},
	}
	for name, f := range cases {
		if err := f(); !errors.Is(err, ErrKeyBinding) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := VerifyKeyBinding(rid.DER, "side-medium", "u1:req-1", rd, []byte{1, 2}, sig); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("malformed package key: %v", err)
	}
}
