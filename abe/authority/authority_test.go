package authority_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	mrand "math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/medshare/medshare/abe"
	"github.com/medshare/medshare/abe/authority"
	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func setup(t *testing.T) *authority.Authority {
	t.Helper()
	s, _ := abe.New(abe.MSC)
	aa, err := authority.Setup(mrand.NewChaCha8([32]byte{1}), s, tag.DefaultSchema())
	if err != nil {
		t.Fatal(err)
	}
	return aa
}

func subject(t *testing.T) []byte {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return b
}

// TestIssue: key and credential carry the same tags, epoch included, and a
// disclosure of the tags a hidden policy needs satisfies it.
func TestIssue(t *testing.T) {
	aa := setup(t)
	req := authority.Request{
		Subject:    subject(t),
		Attributes: []tag.Attribute{{Name: "role", Value: "doctor"}, {Name: "trust", Value: "2"}},
		Epoch:      3, NotBefore: t0, NotAfter: t0.Add(time.Hour),
	}
	g, err := aa.Issue(rand.Reader, req)
	if err != nil {
		t.Fatal(err)
	}
	attrs, _ := aa.Attributes(req)
	if !slices.Equal(attrs, []string{"role=doctor", "trust>=1", "trust>=2", "epoch=3"}) {
		t.Fatalf("attributes %q", attrs)
	}
	want := aa.TagKey().Tags(attrs)
	keyTags := g.Key.Tags()
	sorted := slices.Clone(want)
	slices.SortFunc(sorted, tag.Tag.Compare)
	if !slices.Equal(keyTags, sorted) || !slices.Equal(g.Wallet.Tags(), want) || !slices.Equal(g.Tags, want) {
		t.Fatal("key, wallet and grant tags differ")
	}
	if c := g.Wallet.Credential(); c.Epoch != 3 {
		t.Fatalf("credential epoch %d", c.Epoch)
	}

	// The P-TL flow: hidden policy on the ledger, disclosure of the needed tags.
	rp, _ := policy.ParseRecord("low: role = doctor; medium: trust >= 2; high: identity >= 3")
	hidden, err := aa.HidePolicy(rp, 3)
	if err != nil {
		t.Fatal(err)
	}
	need := map[string]bool{}
	for _, l := range hidden.Level(policy.Medium).Leaves() {
		need[l] = true
	}
	var disclose []tag.Tag
	for _, tg := range g.Wallet.Tags() {
		if need[tg.String()] {
			disclose = append(disclose, tg)
		}
	}
	d, err := g.Wallet.Disclose(disclose)
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Verify(aa.VerifyKey(), t0)
	if err != nil {
		t.Fatal(err)
	}
	has := func(leaf string) bool {
		return slices.ContainsFunc(got, func(tg tag.Tag) bool { return tg.String() == leaf })
	}
	if top, ok := hidden.Highest(has); !ok || top != policy.Medium {
		t.Fatalf("disclosed tags satisfy up to %v %v, want medium", top, ok)
	}
	if len(got) != 3 { // role, trust>=2, epoch — not trust>=1
		t.Fatalf("disclosed %d tags, want 3", len(got))
	}
}

func TestIssueErrors(t *testing.T) {
	aa := setup(t)
	base := authority.Request{Subject: subject(t), Epoch: 1, NotBefore: t0, NotAfter: t0.Add(time.Hour)}
	for name, attrs := range map[string][]tag.Attribute{
		"unknown":      {{Name: "colour", Value: "red"}},
		"out of range": {{Name: "trust", Value: "9"}},
		"epoch":        {{Name: "epoch", Value: "2"}},
	} {
		req := base
		req.Attributes = attrs
		if _, err := aa.Issue(rand.Reader, req); !errors.Is(err, authority.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	req := base
	req.Subject = []byte("junk")
	if _, err := aa.Issue(rand.Reader, req); err == nil {
		t.Error("junk subject accepted")
	}
}

func TestHidePolicy(t *testing.T) {
	aa := setup(t)
	rp, _ := policy.ParseRecord("low: role = doctor; high: trust >= 3")
	h, err := aa.HidePolicy(rp, 7)
	if err != nil {
		t.Fatal(err)
	}
	tk := aa.TagKey()
	want, _ := policy.ParseRecord("low: role = doctor and epoch = 7; high: trust >= 3")
	if !h.Equal(want.Hide(tk)) {
		t.Fatalf("hidden policy %v", h)
	}
	bad, _ := policy.ParseRecord("low: trust >= 4")
	if _, err := aa.HidePolicy(bad, 7); !errors.Is(err, authority.ErrInvalid) {
		t.Errorf("trust >= 4: %v", err)
	}
	if _, err := authority.HidePolicy(nil, tag.DefaultSchema(), tk, 1); !errors.Is(err, authority.ErrInvalid) {
		t.Errorf("nil policy: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	msc, _ := abe.New(abe.MSC)
	tkn, _ := abe.New(abe.TKN20)
	pk, msk, err := msc.Setup(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	schema := tag.DefaultSchema()
	var tk tag.Key
	for i := range tk {
		tk[i] = byte(i + 1)
	}
	if _, err := authority.New(msc, pk, msk, tk, schema, signer); err != nil {
		t.Fatalf("valid New: %v", err)
	}
	rp, _ := policy.ParseRecord("low: role = doctor")
	for name, f := range map[string]func() error{
		"nil msk":         func() error { _, err := authority.New(msc, pk, nil, tk, schema, signer); return err },
		"scheme mismatch": func() error { _, err := authority.New(tkn, pk, msk, tk, schema, signer); return err },
		"P-384 signer":    func() error { _, err := authority.New(msc, pk, msk, tk, schema, p384); return err },
		"zero tag key":    func() error { _, err := authority.New(msc, pk, msk, tag.Key{}, schema, signer); return err },
		"hide, zero key":  func() error { _, err := authority.HidePolicy(rp, schema, tag.Key{}, 1); return err },
		"nil rand":        func() error { _, err := authority.Setup(nil, tkn, schema); return err },
	} {
		if err := f(); !errors.Is(err, authority.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	aa, _ := authority.New(msc, pk, msk, tk, schema, signer)
	state, _ := aa.MarshalBinary()
	for _, cut := range []int{0, 1, len(state) / 2, len(state) - 1} {
		if _, err := authority.Unmarshal(state[:cut], schema); err == nil {
			t.Errorf("state truncated to %d accepted", cut)
		}
	}
	// A stored state whose tag key was zeroed is refused too.
	zeroed := bytes.Clone(state)
	off := bytes.Index(zeroed, tk[:])
	if off < 0 {
		t.Fatal("tag key not found in the state")
	}
	copy(zeroed[off:off+tag.KeySize], make([]byte, tag.KeySize))
	if _, err := authority.Unmarshal(zeroed, schema); !errors.Is(err, authority.ErrInvalid) {
		t.Errorf("state with a zero tag key: %v", err)
	}
}
