package identity_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"math/big"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/medshare/medshare/network/identity"
)

var (
	t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 = t0.Add(365 * 24 * time.Hour)
)

func newCA(t *testing.T, msp string) *identity.CA {
	t.Helper()
	ca, err := identity.NewCA(rand.Reader, msp, msp+" org", "ca."+msp, t0, t1)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestIssueAndValidate(t *testing.T) {
	ca := newCA(t, "Hospital1MSP")
	other := newCA(t, "Hospital2MSP")
	msp, err := identity.NewMSP("Hospital1MSP", ca.Certificate())
	if err != nil {
		t.Fatal(err)
	}
	attrs := map[string]string{"identity": "3", "specialty": "cardiology", "trust": "2"}
	signer, err := ca.IssueSigner(rand.Reader, identity.Request{
		CommonName: "dr-alice", Role: identity.RoleClient, Attributes: attrs,
		NotBefore: t0, NotAfter: t1,
	})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.IssueSigner(rand.Reader, identity.Request{CommonName: "mallory", Role: identity.RoleClient, NotBefore: t0, NotAfter: t1})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		der     []byte
		at      time.Time
		wantErr error
	}{
		{"valid", signer.Bytes(), t0.Add(time.Hour), nil},
		{"not yet valid", signer.Bytes(), t0.Add(-time.Hour), identity.ErrNotMember},
		{"expired", signer.Bytes(), t1.Add(time.Hour), identity.ErrNotMember},
		{"other organisation's CA", foreign.Bytes(), t0.Add(time.Hour), identity.ErrNotMember},
		{"garbage", []byte("not a certificate"), t0.Add(time.Hour), identity.ErrNotMember},
		{"empty", nil, t0.Add(time.Hour), identity.ErrNotMember},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := msp.Validate(tt.der, tt.at)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Validate error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if id.Role() != identity.RoleClient || id.MSPID() != "Hospital1MSP" || id.Name() != "dr-alice" {
				t.Fatalf("identity = %s role %s", id, id.Role())
			}
			for k, v := range attrs {
				if got, ok := id.Attribute(k); !ok || got != v {
					t.Errorf("attribute %s = %q,%v want %q", k, got, ok, v)
				}
			}
			if want := "x509::CN=dr-alice,OU=client,O=Hospital1MSP org::CN=ca.Hospital1MSP,O=Hospital1MSP org"; id.ID() != want {
				t.Errorf("ID = %q, want %q", id.ID(), want)
			}
		})
	}
}

func TestMembership(t *testing.T) {
	ca1, ca2 := newCA(t, "H1MSP"), newCA(t, "H2MSP")
	m1, _ := identity.NewMSP("H1MSP", ca1.Certificate())
	m2, _ := identity.NewMSP("H2MSP", ca2.Certificate())
	mem, err := identity.NewMembership(m1, m2)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := ca2.IssueSigner(rand.Reader, identity.Request{CommonName: "n", Role: identity.RoleNode, NotBefore: t0, NotAfter: t1})
	if _, err := mem.Validate("H1MSP", s.Bytes(), t0.Add(time.Hour)); !errors.Is(err, identity.ErrNotMember) {
		t.Errorf("certificate claimed by the wrong MSP: err = %v", err)
	}
	if _, err := mem.Validate("H3MSP", s.Bytes(), t0.Add(time.Hour)); !errors.Is(err, identity.ErrUnknownMSP) {
		t.Errorf("unknown MSP: err = %v", err)
	}
	id, err := mem.Identify(s.Bytes(), t0.Add(time.Hour))
	if err != nil || id.MSPID() != "H2MSP" || id.Role() != identity.RoleNode {
		t.Fatalf("Identify = %v, %v", id, err)
	}
	if _, err := identity.NewMembership(m1, m1); err == nil {
		t.Error("duplicate MSP accepted")
	}
}

func TestSignatures(t *testing.T) {
	ca := newCA(t, "H1MSP")
	s, err := ca.IssueSigner(rand.Reader, identity.Request{CommonName: "u", Role: identity.RoleClient, NotBefore: t0, NotAfter: t1})
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("transaction bytes")
	// Sign many times: every signature must be low-S and verify.
	for range 64 {
		sig, err := s.Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Verify(msg, sig); err != nil {
			t.Fatalf("own signature rejected: %v", err)
		}
		if err := s.Verify([]byte("other bytes"), sig); !errors.Is(err, identity.ErrBadSignature) {
			t.Fatalf("signature over other message accepted: %v", err)
		}
		// The malleated (high-S) twin of a valid signature must be rejected.
		if err := s.Verify(msg, highS(t, sig)); !errors.Is(err, identity.ErrBadSignature) {
			t.Fatalf("high-S signature accepted: %v", err)
		}
	}
	for _, bad := range [][]byte{nil, {0x30, 0x00}, make([]byte, 200), {0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01}} {
		if err := s.Verify(msg, bad); !errors.Is(err, identity.ErrBadSignature) {
			t.Errorf("Verify(%x) = %v, want ErrBadSignature", bad, err)
		}
	}
}

func TestSignerRejectsWrongKey(t *testing.T) {
	ca := newCA(t, "H1MSP")
	cert, _, err := ca.Issue(rand.Reader, identity.Request{CommonName: "u", Role: identity.RoleClient, NotBefore: t0, NotAfter: t1})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := identity.NewSigner("H1MSP", cert, other); err == nil {
		t.Fatal("signer accepted a key that does not match its certificate")
	}
}

func TestIssueRejectsBadRequests(t *testing.T) {
	ca := newCA(t, "H1MSP")
	for name, req := range map[string]identity.Request{
		"no name":     {Role: identity.RoleClient, NotBefore: t0, NotAfter: t1},
		"no role":     {CommonName: "u", NotBefore: t0, NotAfter: t1},
		"bad role":    {CommonName: "u", Role: "king", NotBefore: t0, NotAfter: t1},
		"empty dates": {CommonName: "u", Role: identity.RoleClient, NotBefore: t1, NotAfter: t0},
	} {
		if _, _, err := ca.Issue(rand.Reader, req); err == nil {
			t.Errorf("%s: Issue succeeded", name)
		}
	}
}

// highS returns the (r, N-s) twin of a low-S signature.
func highS(t *testing.T, sig []byte) []byte {
	t.Helper()
	var inner cryptobyte.String
	r, s := new(big.Int), new(big.Int)
	in := cryptobyte.String(sig)
	if !in.ReadASN1(&inner, cbasn1.SEQUENCE) || !inner.ReadASN1Integer(r) || !inner.ReadASN1Integer(s) {
		t.Fatal("cannot parse signature")
	}
	s.Sub(elliptic.P256().Params().N, s)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1BigInt(r); b.AddASN1BigInt(s) })
	out, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func BenchmarkVerify(b *testing.B) {
	ca, _ := identity.NewCA(rand.Reader, "H1MSP", "o", "ca", t0, t1)
	s, _ := ca.IssueSigner(rand.Reader, identity.Request{CommonName: "u", Role: identity.RoleClient, NotBefore: t0, NotAfter: t1})
	msg := make([]byte, 512)
	sig, _ := s.Sign(msg)
	d := sha256.Sum256(msg)
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if err := identity.VerifyDigest(s.PublicKey(), d[:], sig); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sign", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Sign(msg); err != nil {
				b.Fatal(err)
			}
		}
	})
}
