package medpkg

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden vectors")

func seal(t *testing.T, p *Package, to *PublicKey) *Sealed {
	t.Helper()
	s, err := Seal(rand.Reader, p, to)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	for _, suite := range []Suite{SuiteX25519, SuiteXWing} {
		key, err := GenerateKey(rand.Reader, suite)
		if err != nil {
			t.Fatal(err)
		}
		p := testPackage(t, fixedReportKey(t))
		s := seal(t, p, key.Public())
		if s.Hash != sha256.Sum256(s.Bytes) {
			t.Fatal("Hash is not SHA-256 of the envelope")
		}
		got, hash, err := Open(s.Bytes, key, "req-1")
		if err != nil {
			t.Fatalf("suite %v: %v", suite, err)
		}
		if hash != s.Hash || !reflect.DeepEqual(got, p) {
			t.Fatalf("suite %v: the opened package differs", suite)
		}
		e, err := ParseEnvelope(s.Bytes)
		if err != nil || e.Hash() != s.Hash || e.Suite != suite || e.RequestID != "req-1" || e.DataID != "pkg-1" || e.Recipient != key.Public().ID() {
			t.Fatalf("envelope %+v, %v", e, err)
		}
		// Two seals of one package differ (fresh encapsulation) but both open.
		if s2 := seal(t, p, key.Public()); bytes.Equal(s2.Bytes, s.Bytes) {
			t.Fatal("two seals are identical")
		}
	}
}

func TestWrongKey(t *testing.T) {
	key, _ := GenerateKey(rand.Reader, SuiteX25519)
	other, _ := GenerateKey(rand.Reader, SuiteX25519)
	pq, _ := GenerateKey(rand.Reader, SuiteXWing)
	s := seal(t, testPackage(t, fixedReportKey(t)), key.Public())
	for _, k := range []*PrivateKey{other, pq} {
		if _, _, err := Open(s.Bytes, k, "req-1"); !errors.Is(err, ErrWrongKey) {
			t.Errorf("wrong key: %v", err)
		}
	}
	// A header rewritten to name the other key does not authenticate.
	e, _ := ParseEnvelope(s.Bytes)
	forged := rebuild(e, func(h *Envelope) { h.Recipient = other.Public().ID() })
	if _, _, err := Open(forged, other, "req-1"); !errors.Is(err, ErrTampered) {
		t.Errorf("forged recipient: %v", err)
	}
	if _, _, err := Open(s.Bytes, nil, "req-1"); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("no key: %v", err)
	}
}

// rebuild re-encodes an envelope after changing its header.
func rebuild(e *Envelope, change func(*Envelope)) []byte {
	c := *e
	change(&c)
	b := appendHeader(nil, c.Suite, c.RequestID, c.DataID, c.Recipient, c.Enc)
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.Ciphertext)))
	return append(b, c.Ciphertext...)
}

func TestReplayUnderAnotherRequest(t *testing.T) {
	key, _ := GenerateKey(rand.Reader, SuiteX25519)
	s := seal(t, testPackage(t, fixedReportKey(t)), key.Public())
	// Served as the answer to another request of the same requestor.
	if _, _, err := Open(s.Bytes, key, "req-2"); !errors.Is(err, ErrWrongRequest) {
		t.Fatalf("another request: %v", err)
	}
	// With its header rewritten to that request (or to another data id):
	// the HPKE info and the associated data no longer match.
	e, _ := ParseEnvelope(s.Bytes)
	for _, change := range []func(*Envelope){
		func(h *Envelope) { h.RequestID = "req-2" },
		func(h *Envelope) { h.DataID = "pkg-2" },
	} {
		forged := rebuild(e, change)
		f, _ := ParseEnvelope(forged)
		if _, _, err := Open(forged, key, f.RequestID); !errors.Is(err, ErrTampered) {
			t.Errorf("rewritten header: %v", err)
		}
	}
}

// TestTampered changes every byte of an envelope in turn: Open always
// fails with one of the package's errors, never succeeds.
func TestTampered(t *testing.T) {
	key, _ := GenerateKey(rand.Reader, SuiteX25519)
	s := seal(t, testPackage(t, fixedReportKey(t)), key.Public())
	kinds := map[error]int{}
	for i := range s.Bytes {
		b := bytes.Clone(s.Bytes)
		b[i] ^= 0x01
		_, _, err := Open(b, key, "req-1")
		matched := false
		for _, want := range []error{ErrMalformed, ErrUnsupported, ErrWrongRequest, ErrWrongKey, ErrTampered} {
			if errors.Is(err, want) {
				kinds[want]++
				matched = true
			}
		}
		if !matched {
			t.Fatalf("byte %d changed: %v", i, err)
		}
	}
	if kinds[ErrTampered] < len(s.Bytes)-80 {
		t.Fatalf("only %d of %d changes detected as tampering: %v", kinds[ErrTampered], len(s.Bytes), kinds)
	}
	// Truncated, extended.
	for _, b := range [][]byte{s.Bytes[:len(s.Bytes)-1], append(bytes.Clone(s.Bytes), 0), s.Bytes[:10], nil} {
		if _, _, err := Open(b, key, "req-1"); !errors.Is(err, ErrMalformed) {
			t.Errorf("length %d: %v", len(b), err)
		}
	}
}

// TestGolden: a fixed key, a fixed random stream and a fixed package give a
// fixed envelope (and hash); the vector opens.
func TestGolden(t *testing.T) {
	for _, c := range []struct {
		name  string
		suite Suite
	}{{"x25519", SuiteX25519}, {"xwing", SuiteXWing}} {
		key, err := GenerateKey(&stream{label: "medpkg golden key " + c.name}, c.suite)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Seal(&stream{label: "medpkg golden seal " + c.name}, testPackage(t, fixedReportKey(t)), key.Public())
		if err != nil {
			t.Fatal(err)
		}
		path := "testdata/golden-" + c.name + ".hex"
		got := hex.EncodeToString(s.Bytes) + "\n" + hex.EncodeToString(s.Hash[:]) + "\n"
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Fatalf("%s: the envelope differs from %s (go test -run TestGolden -update rewrites it after a deliberate format change)", c.name, path)
		}
		lines := strings.Split(string(want), "\n")
		b, _ := hex.DecodeString(lines[0])
		p, hash, err := Open(b, key, "req-1")
		if err != nil || hex.EncodeToString(hash[:]) != lines[1] || p.Records[1].RecordID != "rec-2" {
			t.Fatalf("%s: golden vector does not open: %v", c.name, err)
		}
	}
}

func TestKeys(t *testing.T) {
	for _, suite := range []Suite{SuiteX25519, SuiteXWing} {
		k, err := GenerateKey(rand.Reader, suite)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := ParsePublicKey(k.Public().Bytes())
		if err != nil || pub.ID() != k.Public().ID() || pub.Suite() != suite {
			t.Fatalf("public key round trip: %v", err)
		}
		raw, err := k.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		k2, err := ParsePrivateKey(raw)
		if err != nil || k2.Public().ID() != k.Public().ID() {
			t.Fatalf("private key round trip: %v", err)
		}
		b := k.Public().Bytes()
		for name, bad := range map[string][]byte{
			"empty": nil, "format": append([]byte{2}, b[1:]...), "short": b[:len(b)-1], "long": append(bytes.Clone(b), 0),
			"kem": append([]byte{1, 0x00, 0x10}, b[3:]...),
		} {
			if _, err := ParsePublicKey(bad); !errors.Is(err, ErrInvalidKey) && !errors.Is(err, ErrUnsupported) {
				t.Errorf("%v %s: %v", suite, name, err)
			}
		}
		if _, err := ParsePrivateKey(raw[:len(raw)-1]); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("short private key: %v", err)
		}
	}
	if _, err := GenerateKey(rand.Reader, Suite{SuiteX25519.KEM, SuiteX25519.KDF, 0x03}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("ChaCha20 suite: %v", err)
	}
	if _, err := GenerateKey(bytes.NewReader(nil), SuiteX25519); err == nil {
		t.Error("a key from an empty source")
	}
}

func TestValidate(t *testing.T) {
	rk := fixedReportKey(t)
	cases := []struct {
		name   string
		change func(*Package)
		want   string
	}{
		{"format", func(p *Package) { p.Format = "medshare/package/v2" }, "format"},
		{"request id", func(p *Package) { p.RequestID = "req 1" }, "requestID"},
		{"data id", func(p *Package) { p.DataID = "" }, "dataID"},
		{"channel", func(p *Package) { p.Channel = "Side-High" }, "channel"},
		{"requestor", func(p *Package) { p.Requestor = "ABC" }, "requestor"},
		{"purpose", func(p *Package) { p.Purpose = "research" }, "purpose"},
		{"sensitivity", func(p *Package) { p.Sensitivity = "secret" }, "sensitivity"},
		{"times", func(p *Package) { p.ExpiresAt = p.IssuedAt }, "expiresAt"},
		{"unknown action", func(p *Package) { p.Contract.Allowed = []string{"print"} }, "unknown action"},
		{"action twice", func(p *Package) { p.Contract.Allowed = []string{"read", "read"} }, "twice"},
		{"ignored above low", func(p *Package) { p.Contract.Ignored = []string{"read"} }, "only at low"},
		{"decrypted ignored", func(p *Package) { p.Sensitivity = "low"; p.Contract.Ignored = []string{"decrypted"} }, "never be ignored"},
		{"report key", func(p *Package) { p.Contract.ReportKey = []byte{1, 2, 3} }, "reportKey"},
		{"no records", func(p *Package) { p.Records = nil }, "records"},
		{"record twice", func(p *Package) { p.Records[1].RecordID = "rec-1" }, "distinct"},
		{"record version", func(p *Package) { p.Records[0].Version = 0 }, "version"},
		{"record not JSON", func(p *Package) { p.Records[0].FHIR = []byte(`{"a":`) }, "JSON object"},
		{"record array", func(p *Package) { p.Records[0].FHIR = []byte(`[1]`) }, "JSON object"},
	}
	key, _ := GenerateKey(rand.Reader, SuiteX25519)
	for _, c := range cases {
		p := testPackage(t, rk)
		c.change(p)
		err := p.Validate()
		if !errors.Is(err, ErrInvalidPackage) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.name, err)
		}
		if _, err := Seal(rand.Reader, p, key.Public()); !errors.Is(err, ErrInvalidPackage) {
			t.Errorf("%s: sealed anyway: %v", c.name, err)
		}
	}
	low := testPackage(t, rk)
	low.Sensitivity, low.Contract.Ignored = "low", []string{"read", "duplicate"}
	if err := low.Validate(); err != nil {
		t.Errorf("ignored actions at low: %v", err)
	}
}

// TestOpenRefusesInvalidContent: a package sealed by a faulty owner (with
// content Validate refuses, or ids other than its envelope's) is refused
// after decryption.
func TestOpenRefusesInvalidContent(t *testing.T) {
	key, _ := GenerateKey(rand.Reader, SuiteX25519)
	p := testPackage(t, fixedReportKey(t))
	for name, pt := range map[string][]byte{
		"unknown field": []byte(`{"format":"medshare/package/v1","extra":1}`),
		"trailing":      append(mustJSON(t, p), []byte(` {}`)...),
		"other ids":     mustJSON(t, func() *Package { q := testPackage(t, fixedReportKey(t)); q.DataID = "pkg-9"; return q }()),
		"invalid":       mustJSON(t, func() *Package { q := testPackage(t, fixedReportKey(t)); q.Records = nil; return q }()),
	} {
		b := sealRaw(t, pt, "req-1", "pkg-1", key.Public())
		if _, _, err := Open(b, key, "req-1"); !errors.Is(err, ErrInvalidPackage) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
