package txbuild

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/medshare/medshare/chaincode/provenance"
)

// Request is what a MeDShare requestor asks for.
type Request struct {
	// ID names the request: RequestID(user id, name), new on the channel.
	ID string
	// RecordIDs are the records to answer from (1..16), all of one owner
	// and stored on the channel.
	RecordIDs []string
	// Purpose is the request's purpose (DRP), 1..256 bytes.
	Purpose string
	// Time is when the requestor signs.
	Time time.Time
	// ReportKey is the PKIX DER public half of the report key the
	// requestor's client generated for this request (NewKey): it signs the
	// request's reports (SignReport), and nobody else holds it.
	ReportKey []byte
}

// SignRequest returns the requestor's half of a provenance RequestInput on
// channel: the request fields, RID = the requestor's public key with its
// enrolment, the report key, and the requestor's signature over
// provenance.RequestDigest. The owner's gateway completes it with
// RecordRequest.
func SignRequest(requestor *User, channel string, r Request) (*provenance.RequestInput, error) {
	if requestor == nil || requestor.Key == nil {
		return nil, errors.New("txbuild: request: no requestor key")
	}
	if len(r.ReportKey) == 0 {
		return nil, errors.New("txbuild: request: no report key: the requestor's client generates one per request")
	}
	d := provenance.RequestDigest(channel, r.ID, requestor.DER, requestor.Enrolment.User, r.RecordIDs, r.Purpose, r.Time, r.ReportKey)
	sig, err := signBytes("request signature", requestor.Key, d)
	if err != nil {
		return nil, err
	}
	return &provenance.RequestInput{
		RequestID: r.ID, RequestorKey: requestor.DER, Requestor: requestor.Enrolment.User, Enrolment: requestor.Enrolment.Signature,
		RecordIDs: r.RecordIDs, Purpose: r.Purpose, RequestTime: FormatTime(r.Time), ReportKey: r.ReportKey, RequestSignature: sig,
	}, nil
}

// Package is the owner's answer to a MeDShare request: when it was
// received, processed and sent (TTR ≤ TTP ≤ TTS), the package's data id and
// hash, and its usage contract.
type Package struct {
	Received, Processed, Sent time.Time
	// DataID names the package; Hash is SHA-256 of the encrypted package.
	DataID string
	Hash   [32]byte
	// Allowed are the permitted actions (provenance.Actions; "decrypted"
	// always is); Ignored the actions the client need not report (low
	// sensitivity only). The contract's report key is the one in the
	// signed request.
	Allowed, Ignored []string
}

// RecordRequest completes a signed request with the package and returns the
// provenance Request call, with Nsig — the processing node's signature over
// provenance.FormDigest — made by the owner's gateway, which submits it.
// in is not modified.
func RecordRequest(node Signer, channel string, in *provenance.RequestInput, pkg Package) (Call, error) {
	if in == nil {
		return Call{}, errors.New("txbuild: request: no request")
	}
	t, err := parseTime("request time", in.RequestTime)
	if err != nil {
		return Call{}, err
	}
	r := *in
	r.Received, r.Processed, r.Sent = FormatTime(pkg.Received), FormatTime(pkg.Processed), FormatTime(pkg.Sent)
	r.DataID, r.PackageHash = pkg.DataID, hex.EncodeToString(pkg.Hash[:])
	r.Contract = provenance.ContractInput{Allowed: nonNil(pkg.Allowed), Ignored: pkg.Ignored}
	allowed := provenance.MaskOf(pkg.Allowed) | provenance.MaskOf([]string{provenance.ActionDecrypted})
	rd := provenance.RequestDigest(channel, r.RequestID, r.RequestorKey, r.Requestor, r.RecordIDs, r.Purpose, t, r.ReportKey)
	fd := provenance.FormDigest(channel, r.RequestID, rd, pkg.Received, pkg.Processed, pkg.Sent, pkg.DataID, pkg.Hash,
		allowed, provenance.MaskOf(pkg.Ignored))
	if r.NodeSignature, err = signBytes("form signature (Nsig)", node, fd); err != nil {
		return Call{}, err
	}
	js, err := marshal("request", &r)
	if err != nil {
		return Call{}, err
	}
	return Call{Channel: channel, Chaincode: provenance.Name, Fn: "Request", Args: []string{js}}, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Action is one reported action on a package's data.
type Action struct {
	// Name is one of provenance.Actions.
	Name string
	// At is when the client saw it.
	At time.Time
}

// SignReport returns a report of actions on the package of request
// requestID on channel, numbered seq (greater than the last report's),
// signed by the requestor's client with the request's report key over
// provenance.ReportDigest. packageHash is the package's hash (the parent
// block's packageHash). A gateway forwards it with ForwardReport.
func SignReport(reportKey Signer, channel, requestID string, packageHash [32]byte, seq uint64, actions []Action) (*provenance.ReportInput, error) {
	r := &provenance.ReportInput{RequestID: requestID, Seq: seq}
	d := reportDigest(channel, packageHash, r, actions)
	for _, a := range actions {
		r.Actions = append(r.Actions, provenance.ReportedAction{Action: a.Name, At: FormatTime(a.At)})
	}
	sig, err := signBytes("report signature", reportKey, d)
	if err != nil {
		return nil, err
	}
	r.Signature = sig
	return r, nil
}

func reportDigest(channel string, packageHash [32]byte, r *provenance.ReportInput, actions []Action) [32]byte {
	names := make([]string, len(actions))
	at := make([]time.Time, len(actions))
	for i, a := range actions {
		names[i], at[i] = a.Name, a.At
	}
	return provenance.ReportDigest(channel, r.RequestID, packageHash, r.Seq, names, at)
}

// ForwardReport returns the provenance Report call forwarding a signed
// report, countersigned (Nsig over the same report digest) by the
// forwarding gateway, which submits it. Any client of the channel may
// forward a report. r is not modified.
func ForwardReport(node Signer, channel string, packageHash [32]byte, r *provenance.ReportInput) (Call, error) {
	if r == nil {
		return Call{}, errors.New("txbuild: report: no report")
	}
	actions := make([]Action, len(r.Actions))
	for i, a := range r.Actions {
		t, err := parseTime(fmt.Sprintf("report action %d time", i), a.At)
		if err != nil {
			return Call{}, err
		}
		actions[i] = Action{Name: a.Action, At: t}
	}
	out := *r
	var err error
	if out.NodeSignature, err = signBytes("report countersignature (Nsig)", node, reportDigest(channel, packageHash, r, actions)); err != nil {
		return Call{}, err
	}
	js, err := marshal("report", &out)
	if err != nil {
		return Call{}, err
	}
	return Call{Channel: channel, Chaincode: provenance.Name, Fn: "Report", Args: []string{js}}, nil
}

// decision signs the owner's Nsig over provenance.DecisionDigest.
func decision(owner Signer, channel, requestID, kind string, ignored []string, reason string) (string, error) {
	return sign(kind+" decision signature (Nsig)", owner, provenance.DecisionDigest(channel, requestID, kind, provenance.MaskOf(ignored), reason))
}

// SetIgnored returns the provenance SetIgnored call replacing the actions
// ignored for a request (low sensitivity channels only; none when empty),
// signed by the request's owner.
func SetIgnored(owner Signer, channel, requestID string, actions []string) (Call, error) {
	actions = nonNil(actions)
	sig, err := decision(owner, channel, requestID, provenance.KindIgnore, actions, "")
	if err != nil {
		return Call{}, err
	}
	js, err := marshal("ignored actions", actions)
	if err != nil {
		return Call{}, err
	}
	return Call{Channel: channel, Chaincode: provenance.Name, Fn: "SetIgnored", Args: []string{requestID, js, sig}}, nil
}

// Regrant returns the provenance Regrant call by which the request's owner
// re-grants a revoked or recalled requestor's access to the request's
// records, with a reason, signed by the owner.
func Regrant(owner Signer, channel, requestID, reason string) (Call, error) {
	sig, err := decision(owner, channel, requestID, provenance.KindRegrant, nil, reason)
	if err != nil {
		return Call{}, err
	}
	return Call{Channel: channel, Chaincode: provenance.Name, Fn: "Regrant", Args: []string{requestID, reason, sig}}, nil
}

// Recall returns the provenance Recall call by which the request's owner
// recalls the package: the requestor is blocked for its records until a
// re-grant. With reason "" the P-TL blocks say "recalled by the owner".
func Recall(owner Signer, channel, requestID, reason string) (Call, error) {
	sig, err := decision(owner, channel, requestID, provenance.KindRecall, nil, reason)
	if err != nil {
		return Call{}, err
	}
	return Call{Channel: channel, Chaincode: provenance.Name, Fn: "Recall", Args: []string{requestID, reason, sig}}, nil
}
