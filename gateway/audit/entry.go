package audit

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidEntry is returned (wrapped) for a trail entry that cannot be
// converted: a missing or malformed field the kind needs.
var ErrInvalidEntry = errors.New("audit: invalid trail entry")

// Kind is what a trail entry records.
type Kind string

// The kinds of trail entries, one per kind of fact the contracts record.
const (
	// KindUpload is a Tx_sto: a record (version) stored on a side chain
	// (storage.Store).
	KindUpload Kind = "upload"
	// KindAccess is an access attempt (P-TL's log entry, APR): granted
	// (Tx_acc) or refused, with the reason.
	KindAccess Kind = "access"
	// KindRequest is a MeDShare request answered with a package: the parent
	// block (TTR, TTP, TTS, OID, RID, Dsens, DRP, NID, Nsig).
	KindRequest Kind = "request"
	// KindDelivery is the sealed package handed to the requestor by a
	// gateway.
	KindDelivery Kind = "delivery"
	// KindReport is an action report: a side-block of the request's parent
	// block, one or more actions with their status.
	KindReport Kind = "report"
	// KindViolation is a violation: a refused access (VIPR) or a forbidden
	// action.
	KindViolation Kind = "violation"
	// KindRevocation is a requestor blocked: by a forbidden action
	// (provenance) or by monitoring (too many violations).
	KindRevocation Kind = "revocation"
	// KindRegrant is the owner lifting a block.
	KindRegrant Kind = "regrant"
	// KindRecall is the owner recalling a package (a block until re-grant).
	KindRecall Kind = "recall"
)

// Kinds lists every kind.
var Kinds = []Kind{KindUpload, KindAccess, KindRequest, KindDelivery, KindReport, KindViolation, KindRevocation, KindRegrant, KindRecall}

func (k Kind) valid() bool {
	for _, x := range Kinds {
		if k == x {
			return true
		}
	}
	return false
}

// Outcome is how an attempt ended.
type Outcome uint8

// The outcomes.
const (
	// Success: done (a granted access, a stored record, a delivered package).
	Success Outcome = iota
	// Refused: refused by a contract (an access refused, a delivery
	// refused): FHIR "minor failure".
	Refused
	// Failed: could not be done, or a serious breach (a forbidden action):
	// FHIR "serious failure".
	Failed
)

// Party is who took part: a certificate identity (gateways, owners,
// auditors), a user key (data users, requestors), or a node.
type Party struct {
	// ID is a certificate identity's unique name
	// (x509::<subject DN>::<issuer DN>).
	ID string
	// KeyHash is a user's key-hash (first 16 bytes of SHA-256 of the PKIX
	// DER, hex), as the contracts list users.
	KeyHash string
	// MSP is the party's organisation.
	MSP string
	// Name is a display name (a certificate's common name), optional.
	Name string
	// Role is the party's role: RoleOwner, RoleDataUser, …
	Role Role
}

func (p Party) empty() bool { return p.ID == "" && p.KeyHash == "" }

// Role names a party's part in the system (system RoleSystem).
type Role string

// The roles.
const (
	RoleOwner     Role = "data-owner"
	RoleDataUser  Role = "data-user"
	RoleRequestor Role = "requestor"
	RoleGateway   Role = "gateway"
	RoleAuditor   Role = "auditor"
	RoleAdmin     Role = "admin"
	RoleNode      Role = "node"
)

// Action is one reported action of a report.
type Action struct {
	// Name is read, write, delete, duplicate, move, copy or decrypted.
	Name string
	// At is when the requestor's client saw it.
	At time.Time
	// Status is the contract's verdict: permitted, ignored or violation.
	Status string
}

// Entry is one step of a trail, as the gateway reads it from the
// contracts' query results (storage, ptl, provenance, index).
type Entry struct {
	Kind Kind
	// TxID, Block and Time are the ledger transaction, its block number and
	// its timestamp; Channel is the channel it is on; Node is the node the
	// trail was read from (the FHIR source observer).
	TxID    string
	Block   uint64
	Time    time.Time
	Channel string
	Node    string
	// Actor is who acted: the owner (upload, request, regrant, recall), the
	// data user (access, violation), the requestor (report, delivery), or
	// the party that was blocked (revocation).
	Actor Party
	// Submitter is the gateway that submitted the transaction (the owner's
	// for accesses and requests, any for reports), when known.
	Submitter Party
	// Subject is the requestor a request, delivery, revocation, re-grant or
	// recall concerns.
	Subject Party
	// RecordIDs are the records concerned; Version the record version
	// (upload, access); Level the side chain's level.
	RecordIDs []string
	Version   uint64
	Level     string
	// RequestID, PackageID (data id) and PackageHash (hex) name a MeDShare
	// request and its package.
	RequestID   string
	PackageID   string
	PackageHash string
	// Purpose is the request's purpose: an HL7 v3 PurposeOfUse code, or
	// free text.
	Purpose string
	// Received, Processed and Sent are a request's TTR, TTP and TTS.
	Received, Processed, Sent time.Time
	// Outcome and Reason (a contract reason code: policy_not_met, revoked,
	// forbidden_action, …) and Detail (text) say how it ended.
	Outcome Outcome
	Reason  string
	Detail  string
	// AccessID is P-TL's access id (A); Scope a block's scope ("record" or
	// "owner").
	AccessID string
	Scope    string
	// Actions are a report's actions; Seq its sequence number; SideBlock
	// the side-block id.
	Actions   []Action
	Seq       uint64
	SideBlock string
	// Signature is the signature the ledger holds for this step (an upload's
	// Tx_sto signature, a request's Nsig), SignedBy its signer.
	Signature []byte
	SignedBy  Party
}

// Validate checks what every entry needs and what its kind needs.
func (e *Entry) Validate() error {
	bad := func(field, reason string) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidEntry, field, reason)
	}
	switch {
	case !e.Kind.valid():
		return bad("kind", fmt.Sprintf("unknown kind %q", truncate(string(e.Kind), 32)))
	case e.TxID == "" || len(e.TxID) > 128:
		return bad("txID", "must be 1..128 characters")
	case e.Time.IsZero():
		return bad("time", "missing")
	case e.Channel == "":
		return bad("channel", "missing")
	case e.Node == "":
		return bad("node", "missing")
	case e.Actor.empty():
		return bad("actor", "needs an identity or a key-hash")
	case e.Outcome > Failed:
		return bad("outcome", "unknown")
	}
	if err := e.checkStrings(); err != nil {
		return err
	}
	switch e.Kind {
	case KindUpload:
		if len(e.RecordIDs) != 1 || e.Version == 0 {
			return bad("recordIDs", "an upload stores one record version")
		}
	case KindAccess:
		if len(e.RecordIDs) != 1 {
			return bad("recordIDs", "an access is to one record")
		}
		if e.Outcome != Success && e.Reason == "" {
			return bad("reason", "a refused access has a reason")
		}
	case KindRequest, KindDelivery:
		if e.RequestID == "" || e.PackageID == "" || e.Subject.empty() {
			return bad("requestID", "a request or delivery names the request, the package and the requestor")
		}
		if e.Kind == KindRequest && len(e.RecordIDs) == 0 {
			return bad("recordIDs", "a request names its records")
		}
	case KindReport:
		if e.RequestID == "" || e.PackageID == "" || len(e.Actions) == 0 {
			return bad("actions", "a report names its request, package and actions")
		}
		for i, a := range e.Actions {
			if _, ok := actionCodes[a.Name]; !ok || a.At.IsZero() {
				return bad(fmt.Sprintf("actions[%d]", i), "unknown action or no time")
			}
		}
	case KindViolation:
		if e.Reason == "" || (len(e.RecordIDs) == 0 && e.PackageID == "") {
			return bad("reason", "a violation has a reason and a record or package")
		}
	case KindRevocation, KindRegrant, KindRecall:
		if e.Subject.empty() || (len(e.RecordIDs) == 0 && e.RequestID == "") {
			return bad("subject", "names the requestor and the records or request")
		}
	}
	return nil
}

// checkStrings checks every string the FHIR resources carry: tokens (ids,
// codes) are 1..256 bytes without white space or control characters, texts
// valid UTF-8 without control characters (FHIR's string and code types).
func (e *Entry) checkStrings() error {
	tokens := []struct {
		name, v  string
		required bool
	}{
		{"txID", e.TxID, true}, {"channel", e.Channel, true}, {"node", e.Node, true},
		{"level", e.Level, false}, {"requestID", e.RequestID, false}, {"packageID", e.PackageID, false},
		{"packageHash", e.PackageHash, false}, {"reason", e.Reason, false}, {"accessID", e.AccessID, false},
		{"scope", e.Scope, false}, {"sideBlock", e.SideBlock, false},
	}
	for i, r := range e.RecordIDs {
		tokens = append(tokens, struct {
			name, v  string
			required bool
		}{fmt.Sprintf("recordIDs[%d]", i), r, true})
	}
	for _, a := range e.Actions {
		tokens = append(tokens, struct {
			name, v  string
			required bool
		}{"actions.status", a.Status, false})
	}
	for _, t := range tokens {
		if (t.required || t.v != "") && !isToken(t.v) {
			return fmt.Errorf("%w: %s: must be 1..256 bytes without white space or control characters", ErrInvalidEntry, t.name)
		}
	}
	texts := []struct{ name, v string }{{"purpose", e.Purpose}, {"detail", e.Detail}}
	for _, p := range []struct {
		name string
		p    Party
	}{{"actor", e.Actor}, {"submitter", e.Submitter}, {"subject", e.Subject}, {"signedBy", e.SignedBy}} {
		texts = append(texts, struct{ name, v string }{p.name, p.p.ID}, struct{ name, v string }{p.name, p.p.KeyHash},
			struct{ name, v string }{p.name, p.p.MSP}, struct{ name, v string }{p.name, p.p.Name}, struct{ name, v string }{p.name, string(p.p.Role)})
	}
	for _, t := range texts {
		if t.v != "" && !isText(t.v) {
			return fmt.Errorf("%w: %s: must be UTF-8 text without control characters, at most 4096 bytes", ErrInvalidEntry, t.name)
		}
	}
	return nil
}

func isToken(s string) bool {
	if len(s) == 0 || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return false
		}
	}
	return utf8.ValidString(s)
}

func isText(s string) bool {
	if len(s) > 4096 || !utf8.ValidString(s) || strings.TrimSpace(s) == "" {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
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
