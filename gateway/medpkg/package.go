package medpkg

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"time"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/gateway/deid"
)

// Format names the package's content format; it is the Package.Format of
// every package this version seals.
const Format = "medshare/package/v1"

// Limits of a package's content.
const (
	MaxRecords = 16  // as many as a provenance request names
	MaxIDLen   = 128 // record, request and data ids
)

// Package is the content of a MeDShare package (encrypted to the requestor
// by Seal). Times are UTC.
type Package struct {
	// Format is Format.
	Format string `json:"format"`
	// RequestID is the request this package answers; DataID names the
	// package (the parent block's dataID).
	RequestID string `json:"requestID"`
	DataID    string `json:"dataID"`
	// Channel is the side channel whose provenance contract holds the
	// parent block; reports go there.
	Channel string `json:"channel"`
	// Owner is the data owner's identity (OID) and OwnerMSP its
	// organisation; Requestor is the requestor's key-hash (RID).
	Owner     string `json:"owner"`
	OwnerMSP  string `json:"ownerMSP"`
	Requestor string `json:"requestor"`
	// NodeID is the processing node (NID): the gateway that built the
	// package.
	NodeID string `json:"nodeID"`
	// Purpose is the request's HL7 v3 PurposeOfUse code (DRP).
	Purpose string `json:"purpose"`
	// Sensitivity is the highest level of the data (Dsens): low, medium or
	// high. Actions may be ignored only at low.
	Sensitivity string `json:"sensitivity"`
	// RulesVersion and GradingVersion name the de-identification and
	// grading rules the records went through.
	RulesVersion   string `json:"rulesVersion"`
	GradingVersion string `json:"gradingVersion"`
	// IssuedAt and ExpiresAt bound the package's use.
	IssuedAt  time.Time `json:"issuedAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	// Contract is the usage contract.
	Contract Contract `json:"contract"`
	// Records are the data: each a de-identified FHIR R4 document.
	Records []Record `json:"records"`
}

// Contract is the usage contract a package carries (and the parent block
// records): what the requestor may do with the data and how its client
// reports.
type Contract struct {
	// Allowed are the permitted actions, of read, write, delete, duplicate,
	// move, copy; "decrypted" is always permitted.
	Allowed []string `json:"allowed"`
	// Ignored are actions the owner chose not to have recorded (low
	// sensitivity only; never "decrypted").
	Ignored []string `json:"ignored"`
	// ReportKey is the PKIX DER of the ECDSA P-256 report key the
	// requestor's client generated; only that client signs the reports.
	ReportKey []byte `json:"reportKey"`
}

// Record is one record of a package.
type Record struct {
	// RecordID and Version name the stored record it was prepared from.
	RecordID string `json:"recordID"`
	Version  uint64 `json:"version"`
	// FHIR is the de-identified document (a FHIR R4 resource or Bundle,
	// JSON object).
	FHIR json.RawMessage `json:"fhir"`
}

// Validate checks the package: format, ids, channel, identities, a known
// purpose code, a level, times in order, the contract's actions and report
// key, 1..16 distinct records each a JSON object.
func (p *Package) Validate() error { return p.validate(true) }

// validate is Validate; checkJSON false skips the records' JSON syntax,
// which a decoder has checked already.
func (p *Package) validate(checkJSON bool) error {
	bad := func(field, format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidPackage, field, fmt.Sprintf(format, a...))
	}
	if p == nil {
		return bad("package", "missing")
	}
	if p.Format != Format {
		return bad("format", "must be %q", Format)
	}
	for _, f := range []struct{ name, v string }{{"requestID", p.RequestID}, {"dataID", p.DataID}, {"owner", p.Owner}, {"nodeID", p.NodeID}} {
		if !isID(f.v, f.name == "owner" || f.name == "nodeID") {
			return bad(f.name, "must be 1..%d characters of [A-Za-z0-9._:-]", MaxIDLen)
		}
	}
	if !isName(p.Channel) {
		return bad("channel", "must be 1..64 characters of [a-z0-9.-]")
	}
	if !isText(p.OwnerMSP, 1, 128) {
		return bad("ownerMSP", "must be 1..128 bytes of text")
	}
	if !isKeyHash(p.Requestor) {
		return bad("requestor", "must be a key-hash (32 lowercase hex digits)")
	}
	if !deid.KnownPurpose(p.Purpose) {
		return bad("purpose", "must be an HL7 v3 PurposeOfUse code")
	}
	level, err := policy.ParseLevel(p.Sensitivity)
	if err != nil || level.String() != p.Sensitivity {
		return bad("sensitivity", "must be low, medium or high")
	}
	if !isText(p.RulesVersion, 1, 64) || !isText(p.GradingVersion, 1, 64) {
		return bad("rulesVersion", "rule versions must be 1..64 bytes of text")
	}
	if p.IssuedAt.IsZero() || !p.ExpiresAt.After(p.IssuedAt) {
		return bad("expiresAt", "must be after issuedAt")
	}
	if err := p.Contract.validate(level); err != nil {
		return bad("contract", "%v", err)
	}
	if len(p.Records) == 0 || len(p.Records) > MaxRecords {
		return bad("records", "must be 1..%d", MaxRecords)
	}
	seen := map[string]bool{}
	for i, r := range p.Records {
		if !isID(r.RecordID, false) || seen[r.RecordID] {
			return bad(fmt.Sprintf("records[%d].recordID", i), "must be distinct ids")
		}
		seen[r.RecordID] = true
		if r.Version == 0 {
			return bad(fmt.Sprintf("records[%d].version", i), "must be ≥ 1")
		}
		if t := bytes.TrimLeft(r.FHIR, " \t\r\n"); len(t) == 0 || t[0] != '{' || (checkJSON && !json.Valid(r.FHIR)) {
			return bad(fmt.Sprintf("records[%d].fhir", i), "must be a JSON object")
		}
	}
	return nil
}

func (c *Contract) validate(level policy.Level) error {
	if _, err := actionMask("allowed", c.Allowed); err != nil {
		return err
	}
	ignored, err := actionMask("ignored", c.Ignored)
	if err != nil {
		return err
	}
	if ignored != 0 && level != policy.Low {
		return fmt.Errorf("ignored: actions may be ignored only at low sensitivity")
	}
	if ignored.Has(provenance.ActionDecrypted) {
		return fmt.Errorf("ignored: decrypted can never be ignored")
	}
	if _, err := parseReportKey(c.ReportKey); err != nil {
		return err
	}
	return nil
}

func actionMask(name string, actions []string) (provenance.Mask, error) {
	var m provenance.Mask
	for _, a := range actions {
		b := provenance.MaskOf([]string{a})
		if b == 0 {
			return 0, fmt.Errorf("%s: %w %q", name, ErrUnknownAction, truncate(a, 32))
		}
		if m&b != 0 {
			return 0, fmt.Errorf("%s: %s listed twice", name, a)
		}
		m |= b
	}
	return m, nil
}

// parseReportKey checks a PKIX DER ECDSA P-256 public key.
func parseReportKey(der []byte) (*ecdsa.PublicKey, error) {
	if len(der) == 0 || len(der) > 256 {
		return nil, fmt.Errorf("reportKey: missing or too long")
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("reportKey: not a PKIX public key")
	}
	ek, ok := k.(*ecdsa.PublicKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("reportKey: not an ECDSA P-256 key")
	}
	return ek, nil
}

// FHIR returns the package's data as one FHIR document: the record itself
// when there is one, else a collection Bundle with one entry per record.
func (p *Package) FHIR() []byte {
	if len(p.Records) == 1 {
		return append([]byte(nil), p.Records[0].FHIR...)
	}
	var b bytes.Buffer
	b.WriteString(`{"resourceType":"Bundle","type":"collection","entry":[`)
	for i, r := range p.Records {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"resource":`)
		b.Write(r.FHIR)
		b.WriteByte('}')
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func isID(s string, loose bool) bool {
	if len(s) == 0 || len(s) > MaxIDLen*2 || (!loose && len(s) > MaxIDLen) {
		return false
	}
	if loose {
		return isText(s, 1, 2*MaxIDLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

func isName(s string) bool {
	ok := len(s) >= 1 && len(s) <= 64 && s[0] != '.' && s[0] != '-'
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-'
	}
	return ok
}

func isKeyHash(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// isText: printable UTF-8 of min..max bytes.
func isText(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
