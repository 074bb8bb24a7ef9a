package credential_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/medshare/medshare/abe/credential"
	"github.com/medshare/medshare/abe/tag"
)

var (
	t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 = t0.Add(30 * 24 * time.Hour)
)

type fixture struct {
	aa      *ecdsa.PrivateKey
	subject []byte
	tags    []tag.Tag
	wallet  *credential.Wallet
}

func newFixture(t testing.TB, ntags int) *fixture {
	t.Helper()
	aa, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	user, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return fixtureWith(t, aa, user, ntags)
}

// fixtureWith issues a credential for ntags tags by aa to user.
func fixtureWith(t testing.TB, aa, user *ecdsa.PrivateKey, ntags int) *fixture {
	t.Helper()
	subject, err := x509.MarshalPKIXPublicKey(&user.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	var k tag.Key
	tags := make([]tag.Tag, ntags)
	for i := range tags {
		tags[i] = k.Tag(fmt.Sprintf("attr%d=v", i))
	}
	w, err := credential.Issue(mrand.NewChaCha8([32]byte{9}), aa, subject, 7, t0, t1, tags)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{aa, subject, tags, w}
}

func TestIssueDiscloseVerify(t *testing.T) {
	f := newFixture(t, 10)
	c := f.wallet.Credential()
	if c.Epoch != 7 || !c.NotBefore.Equal(t0) || !c.NotAfter.Equal(t1) || !bytes.Equal(c.Subject, f.subject) {
		t.Fatalf("credential fields: %+v", c)
	}
	if !slices.Equal(f.wallet.Tags(), f.tags) {
		t.Fatal("wallet tags")
	}
	if err := f.wallet.Verify(&f.aa.PublicKey, t0); err != nil {
		t.Fatal(err)
	}
	want := []tag.Tag{f.tags[7], f.tags[2], f.tags[0]}
	d, err := f.wallet.Disclose(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Verify(&f.aa.PublicKey, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Verify returned %v, want %v", got, want)
	}
	// Undisclosed tags appear nowhere in the encoding.
	b, _ := d.MarshalBinary()
	for i, tg := range f.tags {
		if slices.Contains(want, tg) {
			continue
		}
		if bytes.Contains(b, tg[:]) {
			t.Fatalf("undisclosed tag %d leaks", i)
		}
	}
	// Full disclosure works too.
	all, err := f.wallet.Disclose(f.tags)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := all.Verify(&f.aa.PublicKey, t0); err != nil || len(got) != len(f.tags) {
		t.Fatalf("full disclosure: %v", err)
	}
	sk, err := c.SubjectKey()
	if err != nil || sk.X.Cmp(mustSubject(t, f.subject).X) != 0 {
		t.Fatalf("SubjectKey: %v", err)
	}
}

func mustSubject(t *testing.T, der []byte) *ecdsa.PublicKey {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*ecdsa.PublicKey)
}

func TestMaxTags(t *testing.T) {
	f := newFixture(t, credential.MaxTags)
	d, err := f.wallet.Disclose(f.tags[credential.MaxTags-3:])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Verify(&f.aa.PublicKey, t0); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyFailures(t *testing.T) {
	f := newFixture(t, 4)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	fresh := func() *credential.Disclosure {
		d, err := f.wallet.Disclose(f.tags[:2])
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	highS := func(d *credential.Disclosure) {
		// Replace s by n-s: still a valid ECDSA signature, but not low-S.
		sig := d.Credential.Signature
		rlen := int(sig[3])
		s := sig[4+rlen+2:]
		n := elliptic.P256().Params().N
		var sv, ns = new(bigInt).SetBytes(s), new(bigInt)
		ns.Sub(n, sv)
		d.Credential.Signature = encodeSig(sig[4:4+rlen], ns.Bytes())
	}
	aa := &f.aa.PublicKey
	for _, tc := range []struct {
		name   string
		mutate func(d *credential.Disclosure)
		key    *ecdsa.PublicKey
		at     time.Time
		want   error
	}{
		{"ok", func(*credential.Disclosure) {}, aa, t0, nil},
		{"other AA", func(*credential.Disclosure) {}, &other.PublicKey, t0, credential.ErrBadSignature},
		{"epoch", func(d *credential.Disclosure) { d.Credential.Epoch++ }, aa, t0, credential.ErrBadSignature},
		{"window", func(d *credential.Disclosure) { d.Credential.NotAfter = d.Credential.NotAfter.Add(time.Hour) }, aa, t0, credential.ErrBadSignature},
		{"subject", func(d *credential.Disclosure) { d.Credential.Subject[len(d.Credential.Subject)-1] ^= 1 }, aa, t0, credential.ErrBadSignature},
		{"root", func(d *credential.Disclosure) { d.Credential.Root[0] ^= 1 }, aa, t0, credential.ErrBadSignature},
		{"signature", func(d *credential.Disclosure) { d.Credential.Signature[10] ^= 1 }, aa, t0, credential.ErrBadSignature},
		{"high S", highS, aa, t0, credential.ErrBadSignature},
		{"too early", func(*credential.Disclosure) {}, aa, t0.Add(-time.Second), credential.ErrNotYetValid},
		{"at NotAfter", func(*credential.Disclosure) {}, aa, t1, credential.ErrExpired},
		{"last second", func(*credential.Disclosure) {}, aa, t1.Add(-time.Second), nil},
		{"tag", func(d *credential.Disclosure) { d.Proofs[0].Tag[0] ^= 1 }, aa, t0, credential.ErrBadProof},
		{"salt", func(d *credential.Disclosure) { d.Proofs[1].Salt[5] ^= 1 }, aa, t0, credential.ErrBadProof},
		{"path", func(d *credential.Disclosure) { d.Proofs[1].Path[3][0] ^= 1 }, aa, t0, credential.ErrBadProof},
		{"index", func(d *credential.Disclosure) { d.Proofs[0].Index ^= 1 }, aa, t0, credential.ErrBadProof},
		{"index range", func(d *credential.Disclosure) { d.Proofs[0].Index = 200 }, aa, t0, credential.ErrBadProof},
		{"duplicate", func(d *credential.Disclosure) { d.Proofs[1] = d.Proofs[0] }, aa, t0, credential.ErrBadProof},
		{"no proofs", func(d *credential.Disclosure) { d.Proofs = nil }, aa, t0, credential.ErrBadProof},
		{"nil AA", func(*credential.Disclosure) {}, nil, t0, credential.ErrInvalid},
	} {
		d := fresh()
		tc.mutate(d)
		_, err := d.Verify(tc.key, tc.at)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: Verify = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestDiscloseErrors(t *testing.T) {
	f := newFixture(t, 3)
	var k tag.Key
	if _, err := f.wallet.Disclose([]tag.Tag{k.Tag("not=held")}); !errors.Is(err, credential.ErrNotHeld) {
		t.Errorf("not held: %v", err)
	}
	if _, err := f.wallet.Disclose([]tag.Tag{f.tags[0], f.tags[0]}); !errors.Is(err, credential.ErrInvalid) {
		t.Errorf("twice: %v", err)
	}
	if _, err := f.wallet.Disclose(nil); !errors.Is(err, credential.ErrInvalid) {
		t.Errorf("none: %v", err)
	}
}

func TestIssueErrors(t *testing.T) {
	f := newFixture(t, 1)
	r := mrand.NewChaCha8([32]byte{})
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384pub, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	many := make([]tag.Tag, credential.MaxTags+1)
	for i := range many {
		many[i][0], many[i][1] = byte(i), 1
	}
	for _, tc := range []struct {
		name    string
		rand    *mrand.ChaCha8
		aa      *ecdsa.PrivateKey
		subject []byte
		nb, na  time.Time
		tags    []tag.Tag
	}{
		{"nil rand", nil, f.aa, f.subject, t0, t1, f.tags},
		{"nil AA", r, nil, f.subject, t0, t1, f.tags},
		{"P-384 AA", r, p384, f.subject, t0, t1, f.tags},
		{"P-384 subject", r, f.aa, p384pub, t0, t1, f.tags},
		{"garbage subject", r, f.aa, []byte{1, 2, 3}, t0, t1, f.tags},
		{"empty window", r, f.aa, f.subject, t0, t0.Add(500 * time.Millisecond), f.tags},
		{"reversed window", r, f.aa, f.subject, t1, t0, f.tags},
		{"no tags", r, f.aa, f.subject, t0, t1, nil},
		{"too many tags", r, f.aa, f.subject, t0, t1, many},
		{"duplicate tags", r, f.aa, f.subject, t0, t1, []tag.Tag{f.tags[0], f.tags[0]}},
	} {
		var err error
		if tc.rand == nil {
			_, err = credential.Issue(nil, tc.aa, tc.subject, 1, tc.nb, tc.na, tc.tags)
		} else {
			_, err = credential.Issue(tc.rand, tc.aa, tc.subject, 1, tc.nb, tc.na, tc.tags)
		}
		if !errors.Is(err, credential.ErrInvalid) {
			t.Errorf("%s: Issue = %v, want ErrInvalid", tc.name, err)
		}
	}
	// Sub-second times are truncated.
	w, err := credential.Issue(r, f.aa, f.subject, 1, t0.Add(300*time.Millisecond), t1.Add(900*time.Millisecond), f.tags)
	if err != nil {
		t.Fatal(err)
	}
	if c := w.Credential(); !c.NotBefore.Equal(t0) || !c.NotAfter.Equal(t1) {
		t.Fatalf("times not truncated: %v %v", c.NotBefore, c.NotAfter)
	}
}

func TestEncodings(t *testing.T) {
	f := newFixture(t, 5)
	wb, err := f.wallet.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	w2, err := credential.UnmarshalWallet(wb)
	if err != nil {
		t.Fatal(err)
	}
	c1, c2 := f.wallet.Credential(), w2.Credential()
	if !c1.Equal(&c2) || !slices.Equal(w2.Tags(), f.tags) {
		t.Fatal("wallet round trip")
	}
	d1, _ := f.wallet.Disclose(f.tags[1:3])
	d2, _ := w2.Disclose(f.tags[1:3])
	b1, _ := d1.MarshalBinary()
	b2, _ := d2.MarshalBinary()
	if !bytes.Equal(b1, b2) {
		t.Fatal("a decoded wallet discloses differently")
	}
	var w3 credential.Wallet
	if err := w3.UnmarshalBinary(wb); err != nil {
		t.Fatal(err)
	}

	d, err := credential.UnmarshalDisclosure(b1)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := d.MarshalBinary(); !bytes.Equal(b, b1) {
		t.Fatal("disclosure round trip")
	}
	if _, err := d.Verify(&f.aa.PublicKey, t0); err != nil {
		t.Fatal(err)
	}
	var d3 credential.Disclosure
	if err := d3.UnmarshalBinary(b1); err != nil {
		t.Fatal(err)
	}

	cb, err := c1.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var c3 credential.Credential
	if err := c3.UnmarshalBinary(cb); err != nil || !c3.Equal(&c1) {
		t.Fatalf("credential round trip: %v", err)
	}
	if err := c3.VerifySignature(&f.aa.PublicKey); err != nil {
		t.Fatal(err)
	}

	// Every truncation and every extension fails, for all three formats.
	for name, in := range map[string][]byte{"wallet": wb, "disclosure": b1, "credential": cb} {
		for i := 0; i < len(in); i++ {
			if err := decode(name, in[:i]); !errors.Is(err, credential.ErrMalformed) {
				t.Fatalf("%s truncated to %d: %v", name, i, err)
			}
		}
		if err := decode(name, append(bytes.Clone(in), 0)); !errors.Is(err, credential.ErrMalformed) {
			t.Fatalf("%s with a trailing byte: %v", name, err)
		}
		bad := bytes.Clone(in)
		bad[0] = 2
		if err := decode(name, bad); !errors.Is(err, credential.ErrMalformed) {
			t.Fatalf("%s with version 2: %v", name, err)
		}
	}
	// A wallet whose salts do not match the root.
	bad := bytes.Clone(wb)
	bad[len(bad)-1] ^= 1
	if _, err := credential.UnmarshalWallet(bad); !errors.Is(err, credential.ErrMalformed) {
		t.Fatalf("wallet with a wrong salt: %v", err)
	}
	// Oversized input is rejected before parsing.
	if _, err := credential.UnmarshalDisclosure(make([]byte, credential.MaxDisclosureLen+1)); !errors.Is(err, credential.ErrMalformed) {
		t.Fatalf("oversized: %v", err)
	}
}

func decode(name string, b []byte) error {
	switch name {
	case "wallet":
		_, err := credential.UnmarshalWallet(b)
		return err
	case "disclosure":
		_, err := credential.UnmarshalDisclosure(b)
		return err
	default:
		var c credential.Credential
		return c.UnmarshalBinary(b)
	}
}
