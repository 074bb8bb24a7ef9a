package envelope

import (
	"bytes"
	"errors"
	"testing"

	"github.com/medshare/medshare/abe/policy"
)

func testKeys(t *testing.T) *Keys {
	t.Helper()
	g, err := NewGate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &Keys{RecordID: "Bundle.00ff", Version: 3, Epoch: 2, Level: policy.Medium, Gate: g, Header: []byte("abe header")}
}

func TestKeysRoundTrip(t *testing.T) {
	k := testKeys(t)
	b, err := k.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseKeys(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.RecordID != k.RecordID || got.Version != k.Version || got.Epoch != k.Epoch || got.Level != k.Level || got.Gate != k.Gate || !bytes.Equal(got.Header, k.Header) {
		t.Fatalf("round trip: got %+v, want %+v", got, k)
	}
	for i := range len(b) {
		if _, err := ParseKeys(b[:i]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated to %d bytes: err = %v, want ErrMalformed", i, err)
		}
	}
	if _, err := ParseKeys(append(b, 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing byte: err = %v, want ErrMalformed", err)
	}
}

func TestKeysRefusesBadFields(t *testing.T) {
	for name, k := range map[string]Keys{
		"no record id": {Version: 1, Level: policy.Low, Header: []byte("h")},
		"version 0":    {RecordID: "r", Level: policy.Low, Header: []byte("h")},
		"bad level":    {RecordID: "r", Version: 1, Level: 7, Header: []byte("h")},
		"no header":    {RecordID: "r", Version: 1, Level: policy.Low},
	} {
		if _, err := k.MarshalBinary(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func TestSealOpen(t *testing.T) {
	k := testKeys(t)
	sealed := []byte("abe sealed level data")
	obj, err := Seal(nil, k, sealed)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Open(k, obj)
	if err != nil || !bytes.Equal(got, sealed) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	// Every changed byte is refused.
	for i := range obj {
		bad := bytes.Clone(obj)
		bad[i] ^= 0x01
		if _, err := Open(k, bad); err == nil {
			t.Fatalf("byte %d flipped: opened", i)
		}
	}
	// Another version, record or level does not open it.
	for name, mod := range map[string]func(*Keys){
		"version": func(k *Keys) { k.Version++ },
		"record":  func(k *Keys) { k.RecordID += "x" },
		"level":   func(k *Keys) { k.Level = policy.High },
		"gate":    func(k *Keys) { k.Gate[0] ^= 1 },
	} {
		k2 := *k
		mod(&k2)
		if _, err := Open(&k2, obj); !errors.Is(err, ErrAuthentication) {
			t.Errorf("other %s: err = %v, want ErrAuthentication", name, err)
		}
	}
}

func TestSealFreshNonces(t *testing.T) {
	k := testKeys(t)
	a, _ := Seal(nil, k, []byte("x"))
	b, _ := Seal(nil, k, []byte("x"))
	if bytes.Equal(a, b) {
		t.Fatal("two seals gave the same object")
	}
}

func FuzzParseKeys(f *testing.F) {
	k := &Keys{RecordID: "r", Version: 1, Level: policy.High, Header: []byte("h")}
	b, _ := k.MarshalBinary()
	f.Add(b)
	f.Add([]byte("mGWK\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseKeys(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		again, err := k.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted encoding does not re-encode to itself: %v", err)
		}
	})
}

func FuzzOpen(f *testing.F) {
	k := &Keys{RecordID: "r", Version: 1, Level: policy.Low, Header: []byte("h")}
	obj, _ := Seal(nil, k, []byte("data"))
	f.Add(obj)
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := Open(k, b)
		if err == nil && !bytes.Equal(out, []byte("data")) {
			t.Fatalf("opened a forged object to %q", out)
		}
	})
}
