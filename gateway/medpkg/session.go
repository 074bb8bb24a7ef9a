package medpkg

import (
	"bytes"
	"fmt"
	"io"
	"time"

	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/chaincode/txbuild"
)

// Verdict is what a usage contract says of an action, as the provenance
// contract will judge its report.
type Verdict uint8

// The verdicts.
const (
	// Permitted: allowed by the contract ("decrypted" always is).
	Permitted Verdict = iota + 1
	// Ignored: the owner chose not to record it (low sensitivity only).
	Ignored
	// Forbidden: reporting it is a violation; the provenance contract
	// revokes the requestor's access in the same transaction.
	Forbidden
)

func (v Verdict) String() string {
	switch v {
	case Permitted:
		return "permitted"
	case Ignored:
		return "ignored"
	case Forbidden:
		return "violation"
	}
	return fmt.Sprintf("Verdict(%d)", uint8(v))
}

// Check returns the contract's verdict on action, in the provenance
// contract's order: ignored, else permitted (allowed, or decrypted), else a
// violation.
func (c *Contract) Check(action string) (Verdict, error) {
	m := provenance.MaskOf([]string{action})
	if m == 0 {
		return 0, fmt.Errorf("%w %q", ErrUnknownAction, truncate(action, 32))
	}
	switch {
	case provenance.MaskOf(c.Ignored)&m != 0:
		return Ignored, nil
	case action == provenance.ActionDecrypted || provenance.MaskOf(c.Allowed)&m != 0:
		return Permitted, nil
	}
	return Forbidden, nil
}

// RequestKeys are the keys a requestor's client makes for one request:
// the package key the owner seals to and the report key its reports are
// signed with. Their public halves go in the signed request; the private
// halves never leave the client.
type RequestKeys struct {
	Package *PrivateKey
	Report  *txbuild.Key
}

// NewRequestKeys makes a request's keys: the package key of suite from rnd,
// the report key from crypto/rand (Go's ECDSA key generation uses the
// system's source whatever it is given).
func NewRequestKeys(rnd io.Reader, suite Suite) (*RequestKeys, error) {
	pk, err := GenerateKey(rnd, suite)
	if err != nil {
		return nil, err
	}
	rk, err := txbuild.NewKey(nil)
	if err != nil {
		return nil, err
	}
	return &RequestKeys{Package: pk, Report: rk}, nil
}

// MaxReportActions is the most actions one report carries (the provenance
// contract's limit).
const MaxReportActions = 32

// Session is the requestor's client at work on one opened package: it
// judges each action by the contract, records it before performing it, and
// signs reports of the recorded actions with the report key. The caller
// submits each report through a gateway and persists NextSeq between runs.
// A Session is not safe for concurrent use.
type Session struct {
	pkg       *Package
	hash      [32]byte
	reportKey *txbuild.Key
	next      uint64
	pending   []txbuild.Action
	clock     func() time.Time
}

// NewSession starts work on package p (as Open returned it, with its
// hash). reportKey must be the key whose public half is the contract's;
// next is the sequence number of the next report (1 for a package never
// reported on); clock gives the time of each action (time.Now when nil).
func NewSession(p *Package, hash [32]byte, reportKey *txbuild.Key, next uint64, clock func() time.Time) (*Session, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if reportKey == nil || !bytes.Equal(reportKey.DER, p.Contract.ReportKey) {
		return nil, ErrReportKey
	}
	if next == 0 {
		return nil, fmt.Errorf("medpkg: report sequence numbers start at 1")
	}
	if clock == nil {
		clock = time.Now
	}
	return &Session{pkg: p, hash: hash, reportKey: reportKey, next: next, clock: clock}, nil
}

// Package returns the package.
func (s *Session) Package() *Package { return s.pkg }

// Hash returns the package's hash.
func (s *Session) Hash() [32]byte { return s.hash }

// NextSeq is the sequence number the next report will carry.
func (s *Session) NextSeq() uint64 { return s.next }

// Pending is the number of recorded actions not yet reported.
func (s *Session) Pending() int { return len(s.pending) }

// Record records action at the clock's time for the next report and returns
// the contract's verdict. Every action is recorded, ignored ones too: the
// ignored set on the ledger may have changed since the package was made,
// and the provenance contract stores nothing for an ignored-only report.
// After the package's expiry nothing is recorded: ErrExpired.
func (s *Session) Record(action string) (Verdict, error) {
	v, err := s.pkg.Contract.Check(action)
	if err != nil {
		return 0, err
	}
	now := s.clock()
	if !now.Before(s.pkg.ExpiresAt) {
		return 0, ErrExpired
	}
	s.pending = append(s.pending, txbuild.Action{Name: action, At: now.UTC()})
	return v, nil
}

// Decrypted records the first opening of the package ("decrypted"), which
// shows the owner the client's contract is running.
func (s *Session) Decrypted() error {
	_, err := s.Record(provenance.ActionDecrypted)
	return err
}

// Perform records action, then runs do (the action itself, which the CLI
// implements: print, export, copy a file, …) and returns the verdict and
// do's error. A forbidden action is performed and reported like any other:
// the contract, not the client, decides the consequence (revocation); the
// CLI should ask before calling Perform with a Forbidden verdict from Check.
func (s *Session) Perform(action string, do func(*Package) error) (Verdict, error) {
	v, err := s.Record(action)
	if err != nil {
		return 0, err
	}
	if do == nil {
		return v, nil
	}
	return v, do(s.pkg)
}

// Report signs the oldest recorded actions (up to MaxReportActions) as the
// next report, over provenance.ReportDigest with the report key
// (txbuild.SignReport), and advances the sequence number. It returns nil
// when nothing is pending; call it until it does. A gateway forwards the
// report with txbuild.ForwardReport.
func (s *Session) Report() (*provenance.ReportInput, error) {
	if len(s.pending) == 0 {
		return nil, nil
	}
	n := min(len(s.pending), MaxReportActions)
	r, err := txbuild.SignReport(s.reportKey, s.pkg.Channel, s.pkg.RequestID, s.hash, s.next, s.pending[:n])
	if err != nil {
		return nil, err
	}
	s.pending = s.pending[n:]
	s.next++
	return r, nil
}
