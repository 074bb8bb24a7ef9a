package medpkg

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"
	"time"

	"github.com/medshare/medshare/chaincode/txbuild"
)

// fixedReportKeyDER is a fixed ECDSA P-256 public key (PKIX DER), so that
// golden vectors do not depend on key generation.
const fixedReportKeyDER = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAERuvwPPmYo4ZTneC/aHcDNAvDX4D2Q2JTtJUvgF3IMZLr7fMkQ0dSeJ4K0GIuYUGVxVs3GR7q+5Hgp9OtgMsfVQ=="

func fixedReportKey(t testing.TB) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(fixedReportKeyDER)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	issued  = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	expires = issued.Add(30 * 24 * time.Hour)
)

// testPackage is a valid package of two small records.
func testPackage(t testing.TB, reportKey []byte) *Package {
	t.Helper()
	return &Package{
		Format: Format, RequestID: "req-1", DataID: "pkg-1", Channel: "side-medium",
		Owner:     "x509::CN=gateway,O=Hospital1::CN=ca.hospital1,O=Hospital1",
		OwnerMSP:  "Hospital1MSP",
		Requestor: "0123456789abcdef0123456789abcdef",
		NodeID:    "gateway.hospital1",
		Purpose:   "HRESCH", Sensitivity: "medium",
		RulesVersion: "medshare-deid-2026.1", GradingVersion: "medshare-default-2026.1",
		IssuedAt: issued, ExpiresAt: expires,
		Contract: Contract{Allowed: []string{"read", "copy"}, Ignored: []string{}, ReportKey: reportKey},
		Records: []Record{
			{RecordID: "rec-1", Version: 1, FHIR: json.RawMessage(`{"resourceType":"Patient","id":"5e0bbf8c-2c33-8d16-8e44-0aa0bf2b5e2b","gender":"female","birthDate":"1961"}`)},
			{RecordID: "rec-2", Version: 3, FHIR: json.RawMessage(`{"resourceType":"Observation","status":"final","code":{"text":"x"}}`)},
		},
	}
}

// stream is a deterministic byte source (SHA-256 in counter mode of a
// label) for golden vectors.
type stream struct {
	label string
	n     uint64
	buf   []byte
}

func (s *stream) Read(p []byte) (int, error) {
	for i := range p {
		if len(s.buf) == 0 {
			h := sha256.Sum256(binary.BigEndian.AppendUint64([]byte(s.label), s.n))
			s.buf = h[:]
			s.n++
		}
		p[i], s.buf = s.buf[0], s.buf[1:]
	}
	return len(p), nil
}

func newReportKey(t testing.TB) *txbuild.Key {
	t.Helper()
	k, err := txbuild.NewKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustJSON(t testing.TB, p *Package) []byte {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sealRaw seals arbitrary plaintext as a faulty owner would.
func sealRaw(t testing.TB, pt []byte, requestID, dataID string, to *PublicKey) []byte {
	t.Helper()
	sender, err := to.suite.hpke().NewSender(to.key, info(requestID, dataID))
	if err != nil {
		t.Fatal(err)
	}
	enc, sealer, err := sender.Setup(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h := appendHeader(nil, to.suite, requestID, dataID, to.ID(), enc)
	ct, err := sealer.Seal(pt, h)
	if err != nil {
		t.Fatal(err)
	}
	return append(binary.BigEndian.AppendUint32(h, uint32(len(ct))), ct...)
}
