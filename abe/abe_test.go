package abe_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medshare/medshare/abe"
	"github.com/medshare/medshare/abe/authority"
	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
)

const (
	epoch    = 5
	recordID = "record-0001"
	srcPol   = `low: role = doctor or role = researcher
medium: trust >= 2
high: identity >= 3 and specialty = cardiology`
)

var (
	data = abe.Levels{[]byte("diagnosis: hypertension"), []byte("age: 54; zip: 650xx"), []byte("name: Li Wei; phone: 555-0100")}
	t0   = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
)

func rng(seed uint64) *mrand.ChaCha8 {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	return mrand.NewChaCha8(s)
}

type system struct {
	aa     *authority.Authority
	scheme abe.Scheme
	hidden *policy.Record
	ct     *abe.Ciphertext
	ctb    []byte
}

var (
	sysOnce sync.Map // scheme name → *system
)

func newSystem(t testing.TB, name string) *system {
	t.Helper()
	if s, ok := sysOnce.Load(name); ok {
		return s.(*system)
	}
	sch, err := abe.New(name)
	if err != nil {
		t.Fatal(err)
	}
	aa, err := authority.Setup(rng(1), sch, tag.DefaultSchema())
	if err != nil {
		t.Fatal(err)
	}
	rp, err := policy.ParseRecord(srcPol)
	if err != nil {
		t.Fatal(err)
	}
	hidden, err := aa.HidePolicy(rp, epoch)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := sch.Encrypt(rng(2), aa.PublicKey(), hidden, []byte(recordID), data)
	if err != nil {
		t.Fatal(err)
	}
	ctb, err := ct.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	s := &system{aa, sch, hidden, ct, ctb}
	sysOnce.Store(name, s)
	return s
}

func subject(t testing.TB) []byte {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return der
}

func (s *system) user(t testing.TB, e uint64, attrs ...string) *abe.UserKey {
	t.Helper()
	var as []tag.Attribute
	for _, a := range attrs {
		n, v, _ := strings.Cut(a, "=")
		as = append(as, tag.Attribute{Name: n, Value: v})
	}
	g, err := s.aa.Issue(rng(uint64(len(attrs))+e), authority.Request{
		Subject: subject(t), Attributes: as, Epoch: e, NotBefore: t0, NotAfter: t0.Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	return g.Key
}

var matrix = []struct {
	name  string
	epoch uint64
	attrs []string
	top   int // -1: nothing
}{
	{"nurse", epoch, []string{"role=nurse", "trust=3", "identity=3", "specialty=cardiology"}, -1},
	{"doctor trust 1", epoch, []string{"role=doctor", "trust=1"}, 0},
	{"doctor with high extras but trust 1", epoch, []string{"role=doctor", "trust=1", "identity=3", "specialty=cardiology"}, 0},
	{"researcher trust 2", epoch, []string{"role=researcher", "trust=2", "identity=2", "specialty=cardiology"}, 1},
	{"cardiologist", epoch, []string{"role=doctor", "trust=3", "identity=3", "specialty=cardiology"}, 2},
	{"cardiologist, old epoch", epoch - 1, []string{"role=doctor", "trust=3", "identity=3", "specialty=cardiology"}, -1},
}

// TestMatrix: each user decrypts exactly its levels and nothing above.
func TestMatrix(t *testing.T) {
	for _, name := range []string{abe.MSC, abe.TKN20} {
		t.Run(name, func(t *testing.T) {
			s := newSystem(t, name)
			ct, err := abe.ParseCiphertext(s.ctb)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range matrix {
				uk := s.user(t, u.epoch, u.attrs...)
				if top, ok := abe.Authorized(uk, ct); ok != (u.top >= 0) || ok && int(top) != u.top {
					t.Errorf("%s: Authorized = %v %v, want %d", u.name, top, ok, u.top)
				}
				opened, err := s.scheme.Decrypt(uk, ct, []byte(recordID))
				if u.top < 0 {
					var nae *abe.NotAuthorizedError
					if !errors.As(err, &nae) || nae.Level != policy.Low || !errors.Is(err, abe.ErrNotAuthorized) {
						t.Errorf("%s: Decrypt = %v, want not authorised for low", u.name, err)
					}
				} else if err != nil || int(opened.Top) != u.top {
					t.Errorf("%s: Decrypt top %v, err %v; want top %d", u.name, opened.Top, err, u.top)
				}
				for _, l := range policy.Levels {
					got, err := s.scheme.DecryptLevel(uk, ct, []byte(recordID), l)
					if int(l) <= u.top {
						if err != nil || !bytes.Equal(got, data[l]) {
							t.Errorf("%s: level %v: %q, %v", u.name, l, got, err)
						}
						if !bytes.Equal(opened.Data[l], data[l]) {
							t.Errorf("%s: Decrypt level %v = %q", u.name, l, opened.Data[l])
						}
						continue
					}
					var nae *abe.NotAuthorizedError
					if !errors.As(err, &nae) || nae.Level != l {
						t.Errorf("%s: level %v: %v, want NotAuthorizedError", u.name, l, err)
					} else if want := "abe: not authorised for level " + l.String(); err.Error() != want {
						t.Errorf("error text %q, want %q", err, want)
					}
					if opened.Data[l] != nil {
						t.Errorf("%s: Decrypt returned level %v", u.name, l)
					}
				}
			}
		})
	}
}

// TestTagHiding: no attribute name, value or canonical string appears in a
// serialised ciphertext, user key or hidden policy.
func TestTagHiding(t *testing.T) {
	words := []string{"role", "doctor", "researcher", "trust", "identity", "specialty", "cardiology", "epoch", "trust>=2", "role=doctor"}
	for _, name := range []string{abe.MSC, abe.TKN20} {
		s := newSystem(t, name)
		ukb, err := s.user(t, epoch, "role=doctor", "trust=3", "identity=3", "specialty=cardiology").MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		hb, _ := s.hidden.MarshalBinary()
		for what, b := range map[string][]byte{"ciphertext": s.ctb, "user key": ukb, "policy": hb, "policy text": []byte(s.ct.Policy().String())} {
			for _, w := range words {
				if bytes.Contains(bytes.ToLower(b), []byte(w)) {
					t.Errorf("%s: %s contains %q", name, what, w)
				}
			}
		}
	}
}

func TestTamper(t *testing.T) {
	for _, name := range []string{abe.MSC, abe.TKN20} {
		s := newSystem(t, name)
		uk := s.user(t, epoch, "role=doctor", "trust=3", "identity=3", "specialty=cardiology")
		// The honest ciphertext opens.
		if _, err := s.scheme.Decrypt(uk, s.ct, []byte(recordID)); err != nil {
			t.Fatal(err)
		}
		// Wrong record id.
		if _, err := s.scheme.Decrypt(uk, s.ct, []byte("record-0002")); !errors.Is(err, abe.ErrAuthentication) {
			t.Errorf("%s: wrong record id: %v", name, err)
		}
		// Flip bytes across the whole ciphertext: parsing or decryption
		// must fail, never succeed, never panic.
		step := len(s.ctb) / 97
		for i := 0; i < len(s.ctb); i += max(step, 1) {
			bad := bytes.Clone(s.ctb)
			bad[i] ^= 0x04
			ct, err := abe.ParseCiphertext(bad)
			if err != nil {
				if !errors.Is(err, abe.ErrMalformed) {
					t.Errorf("%s: byte %d: parse error %v is not ErrMalformed", name, i, err)
				}
				continue
			}
			if _, err := s.scheme.Decrypt(uk, ct, []byte(recordID)); err == nil {
				t.Errorf("%s: byte %d flipped: decryption succeeded", name, i)
			}
		}
		// Flipping a byte of sealed data fails authentication specifically.
		bad := bytes.Clone(s.ctb)
		bad[len(bad)-3] ^= 1
		ct, err := abe.ParseCiphertext(bad)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.scheme.DecryptLevel(uk, ct, []byte(recordID), policy.High); !errors.Is(err, abe.ErrAuthentication) {
			t.Errorf("%s: sealed data flipped: %v", name, err)
		}
	}
}

func TestEncodings(t *testing.T) {
	for _, name := range []string{abe.MSC, abe.TKN20} {
		s := newSystem(t, name)
		uk := s.user(t, epoch, "role=doctor")
		pkb, _ := s.aa.PublicKey().MarshalBinary()
		ukb, _ := uk.MarshalBinary()

		pk2, err := abe.ParsePublicKey(pkb)
		if err != nil || !pk2.Equal(s.aa.PublicKey()) || pk2.Scheme() != name {
			t.Fatalf("%s public key: %v", name, err)
		}
		uk2, err := abe.ParseUserKey(ukb)
		if err != nil || !uk2.Equal(uk) || uk2.Scheme() != name || len(uk2.Tags()) != 2 {
			t.Fatalf("%s user key: %v", name, err)
		}
		ct2, err := abe.ParseCiphertext(s.ctb)
		if err != nil || !ct2.Equal(s.ct) || !ct2.Policy().Equal(s.hidden) {
			t.Fatalf("%s ciphertext: %v", name, err)
		}
		if b, _ := ct2.MarshalBinary(); !bytes.Equal(b, s.ctb) {
			t.Fatalf("%s ciphertext re-encoding differs", name)
		}
		state, err := s.aa.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		aa2, err := authority.Unmarshal(state, tag.DefaultSchema())
		if err != nil || !aa2.PublicKey().Equal(s.aa.PublicKey()) || aa2.TagKey() != s.aa.TagKey() {
			t.Fatalf("%s authority state: %v", name, err)
		}
		// A key from the restored authority decrypts.
		g, err := aa2.Issue(rng(9), authority.Request{Subject: subject(t), Attributes: []tag.Attribute{{Name: "role", Value: "doctor"}}, Epoch: epoch, NotBefore: t0, NotAfter: t0.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := aa2.Scheme().DecryptLevel(g.Key, s.ct, []byte(recordID), policy.Low); err != nil {
			t.Fatalf("%s: key from restored authority: %v", name, err)
		}

		for what, in := range map[string][]byte{"pk": pkb, "uk": ukb, "ct": s.ctb} {
			parse := map[string]func([]byte) error{
				"pk": func(b []byte) error { _, err := abe.ParsePublicKey(b); return err },
				"uk": func(b []byte) error { _, err := abe.ParseUserKey(b); return err },
				"ct": func(b []byte) error { _, err := abe.ParseCiphertext(b); return err },
			}[what]
			for _, cut := range []int{0, 3, 7, 8, len(in) / 3, len(in) - 1} {
				if err := parse(in[:cut]); !errors.Is(err, abe.ErrMalformed) {
					t.Errorf("%s %s truncated to %d: %v", name, what, cut, err)
				}
			}
			if err := parse(append(bytes.Clone(in), 1)); !errors.Is(err, abe.ErrMalformed) {
				t.Errorf("%s %s extended: %v", name, what, err)
			}
			for _, pos := range []int{0, 4, 5, 6} { // magic, version, kind, scheme
				bad := bytes.Clone(in)
				bad[pos] ^= 0x40
				if err := parse(bad); !errors.Is(err, abe.ErrMalformed) {
					t.Errorf("%s %s envelope byte %d: %v", name, what, pos, err)
				}
			}
		}
	}
}

func TestSchemeMismatch(t *testing.T) {
	m, k := newSystem(t, abe.MSC), newSystem(t, abe.TKN20)
	uk := k.user(t, epoch, "role=doctor")
	if _, err := m.scheme.Decrypt(uk, m.ct, []byte(recordID)); !errors.Is(err, abe.ErrSchemeMismatch) {
		t.Errorf("tkn20 key on msc ciphertext: %v", err)
	}
	if _, err := k.scheme.Encrypt(rng(3), m.aa.PublicKey(), m.hidden, nil, data); !errors.Is(err, abe.ErrSchemeMismatch) {
		t.Errorf("msc key with tkn20 scheme: %v", err)
	}
	if _, err := m.scheme.Decrypt(uk, k.ct, []byte(recordID)); !errors.Is(err, abe.ErrSchemeMismatch) {
		t.Errorf("tkn20 key and ciphertext given to msc: %v", err)
	}
	var zeroKey abe.UserKey
	var zeroCT abe.Ciphertext
	if _, err := m.scheme.DecryptLevel(&zeroKey, &zeroCT, nil, policy.Low); !errors.Is(err, abe.ErrSchemeMismatch) {
		t.Errorf("zero key and ciphertext: %v", err)
	}
	if _, err := zeroCT.MarshalBinary(); !errors.Is(err, abe.ErrInvalidInput) {
		t.Errorf("zero ciphertext marshal: %v", err)
	}
	if _, err := abe.New("rsa"); !errors.Is(err, abe.ErrUnknownScheme) {
		t.Errorf("New(rsa): %v", err)
	}
	if s, err := abe.New(""); err != nil || s.Name() != abe.MSC {
		t.Errorf("New(\"\") = %v, %v", s, err)
	}
}

func TestInvalidInput(t *testing.T) {
	s := newSystem(t, abe.MSC)
	clear, _ := policy.ParseRecord("low: role = doctor")
	for name, f := range map[string]func() error{
		"clear policy": func() error {
			_, err := s.scheme.Encrypt(rng(4), s.aa.PublicKey(), clear, nil, data)
			return err
		},
		"nil rand": func() error { _, err := s.scheme.Encrypt(nil, s.aa.PublicKey(), s.hidden, nil, data); return err },
		"nil pk":   func() error { _, err := s.scheme.Encrypt(rng(4), nil, s.hidden, nil, data); return err },
		"long id": func() error {
			_, err := s.scheme.Encrypt(rng(4), s.aa.PublicKey(), s.hidden, make([]byte, abe.MaxRecordIDLen+1), data)
			return err
		},
		"nil key": func() error { _, err := s.scheme.Decrypt(nil, s.ct, nil); return err },
		"nil ct":  func() error { _, err := s.scheme.Decrypt(s.user(t, epoch, "role=doctor"), nil, nil); return err },
		"bad level": func() error {
			_, err := s.scheme.DecryptLevel(s.user(t, epoch, "role=doctor"), s.ct, nil, 7)
			return err
		},
		"keygen nil": func() error {
			_, err := s.scheme.KeyGen(rng(1), nil, nil)
			return err
		},
	} {
		if err := f(); !errors.Is(err, abe.ErrInvalidInput) {
			t.Errorf("%s: %v, want ErrInvalidInput", name, err)
		}
	}
}

// TestFreshness: encrypting the same record twice gives unrelated
// ciphertexts (fresh secrets, so fresh AES keys and nonces).
func TestFreshness(t *testing.T) {
	s := newSystem(t, abe.MSC)
	a, _ := s.scheme.Encrypt(rand.Reader, s.aa.PublicKey(), s.hidden, []byte(recordID), data)
	b, _ := s.scheme.Encrypt(rand.Reader, s.aa.PublicKey(), s.hidden, []byte(recordID), data)
	ab, _ := a.MarshalBinary()
	bb, _ := b.MarshalBinary()
	tail := func(x []byte) []byte { return x[len(x)-40:] }
	if bytes.Equal(tail(ab), tail(bb)) || a.Equal(b) {
		t.Fatal("two encryptions share sealed data")
	}
}

func TestEmptyLevels(t *testing.T) {
	for _, name := range []string{abe.MSC, abe.TKN20} {
		s := newSystem(t, name)
		ct, err := s.scheme.Encrypt(rng(5), s.aa.PublicKey(), s.hidden, nil, abe.Levels{nil, {}, []byte("x")})
		if err != nil {
			t.Fatal(err)
		}
		uk := s.user(t, epoch, "role=doctor", "trust=3", "identity=3", "specialty=cardiology")
		o, err := s.scheme.Decrypt(uk, ct, nil)
		if err != nil || o.Top != policy.High || o.Data[0] == nil || len(o.Data[0]) != 0 || string(o.Data[2]) != "x" {
			t.Fatalf("%s: %+v %v", name, o, err)
		}
	}
}

func ExampleScheme() {
	scheme, _ := abe.New(abe.MSC)
	aa, _ := authority.Setup(rand.Reader, scheme, tag.DefaultSchema())

	// The data owner hides its record policy (adding the current epoch) and
	// encrypts the three levels once.
	rp, _ := policy.ParseRecord(`low: role = doctor; medium: trust >= 2; high: identity >= 3`)
	hidden, _ := aa.HidePolicy(rp, 1)
	ct, _ := scheme.Encrypt(rand.Reader, aa.PublicKey(), hidden, []byte("rec-1"),
		abe.Levels{[]byte("clinical"), []byte("quasi-identifiers"), []byte("identifiers")})

	// A doctor at trust level 2 and identity level 1 reads low and medium.
	owner, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	subj, _ := x509.MarshalPKIXPublicKey(&owner.PublicKey)
	g, _ := aa.Issue(rand.Reader, authority.Request{
		Subject:    subj,
		Attributes: []tag.Attribute{{Name: "role", Value: "doctor"}, {Name: "trust", Value: "2"}, {Name: "identity", Value: "1"}},
		Epoch:      1, NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<40, 0),
	})
	opened, _ := scheme.Decrypt(g.Key, ct, []byte("rec-1"))
	for l := policy.Low; l <= opened.Top; l++ {
		fmt.Printf("%s: %s\n", l, opened.Data[l])
	}
	_, err := scheme.DecryptLevel(g.Key, ct, []byte("rec-1"), policy.High)
	fmt.Println(err)
	// Output:
	// low: clinical
	// medium: quasi-identifiers
	// abe: not authorised for level high
}
