package client

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/medpkg"
)

// The MeDShare and audit side of the client: the requestor's request,
// package and reports, the owner's decisions, and the audit trail read with
// the caller's own rights (a read warrant the client signs).

// withHeader returns a client of the same gateway, identity and pinning
// that sends header k: v with every request.
func (c *Client) withHeader(k, v string) *Client {
	hc := *c.hc
	rt := hc.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	hc.Transport = headerRT{rt: rt, k: k, v: v}
	return &Client{base: c.base, id: c.id, hc: &hc, wrap: c.wrap, pinMSP: c.pinMSP, pinCA: c.pinCA}
}

type headerRT struct {
	rt   http.RoundTripper
	k, v string
}

func (h headerRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.k, h.v)
	return h.rt.RoundTrip(r)
}

// RelayID returns the unique name of the gateway's identity
// ("x509::<subject>::<issuer>" of the certificate it serves HTTPS with):
// the relay a read warrant names.
func (c *Client) RelayID(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/healthz", nil)
	if err != nil {
		return "", err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("client: %w", err)
	}
	resp.Body.Close()
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		return "", errors.New("client: the gateway presented no certificate")
	}
	return uniqueName(resp.TLS.PeerCertificates[0]), nil
}

func uniqueName(c *x509.Certificate) string {
	return "x509::" + c.Subject.String() + "::" + c.Issuer.String()
}

// WarrantValidity is how long the warrants Warrant signs are valid.
const WarrantValidity = 30 * time.Minute

// Warrant signs a read warrant for this client's gateway: it lets the
// gateway run the contracts' audit reads with the caller's own rights for
// WarrantValidity (a minute's clock skew allowed).
func (c *Client) Warrant(ctx context.Context) (string, error) {
	relay, err := c.RelayID(ctx)
	if err != nil {
		return "", err
	}
	s := c.id.Signer
	if s == nil {
		return "", errors.New("client: no signing identity")
	}
	nb := time.Now().Add(-time.Minute)
	return txbuild.SignWarrant(s, txbuild.WarrantInput{MSP: s.MSPID(), Certificate: s.Bytes(), Relay: relay, NotBefore: nb, NotAfter: nb.Add(WarrantValidity)})
}

// WithWarrant returns a copy of c whose requests carry the read warrant w.
func (c *Client) WithWarrant(w string) *Client { return c.withHeader(api.WarrantHeader, w) }

// Reading returns a copy of c carrying a fresh read warrant for its
// gateway.
func (c *Client) Reading(ctx context.Context) (*Client, error) {
	w, err := c.Warrant(ctx)
	if err != nil {
		return nil, err
	}
	return c.WithWarrant(w), nil
}

// RequestPackage sends a signed request to the owner's gateway and returns
// the delivered package.
func (c *Client) RequestPackage(ctx context.Context, req *api.PackageRequest) (*api.Package, error) {
	var p api.Package
	_, err := c.postJSON(ctx, http.MethodPost, api.Prefix+"/medshare/requests", req, &p)
	return &p, err
}

// PackageEnvelope fetches a delivered package again from the owner's
// gateway.
func (c *Client) PackageEnvelope(ctx context.Context, requestID string) ([]byte, error) {
	var b []byte
	_, err := c.Do(ctx, http.MethodGet, api.Prefix+"/medshare/packages/"+url.PathEscape(requestID), "", nil, &b)
	return b, err
}

// Report forwards a signed report through the gateway.
func (c *Client) Report(ctx context.Context, req *api.ReportRequest) (*api.ReportResult, error) {
	var r api.ReportResult
	_, err := c.postJSON(ctx, http.MethodPost, api.Prefix+"/medshare/reports", req, &r)
	return &r, err
}

// Requests lists the requests the owner's gateway answered.
func (c *Client) Requests(ctx context.Context, pageSize int, bookmark string) (*api.RequestPage, error) {
	var p api.RequestPage
	return &p, c.getJSON(ctx, api.Prefix+"/medshare/requests?"+pageQuery(pageSize, bookmark).Encode(), &p)
}

// RequestView shows a request's blocks (owners at their gateway; others
// through Reading).
func (c *Client) RequestView(ctx context.Context, requestID string) (*api.RequestView, error) {
	var v api.RequestView
	return &v, c.getJSON(ctx, api.Prefix+"/medshare/requests/"+url.PathEscape(requestID), &v)
}

// RegrantRequest re-grants a revoked or recalled requestor (owner).
func (c *Client) RegrantRequest(ctx context.Context, requestID, reason string) (*api.Decision, error) {
	var d api.Decision
	_, err := c.postJSON(ctx, http.MethodPost, api.Prefix+"/medshare/requests/"+url.PathEscape(requestID)+"/regrant", api.DecisionRequest{Reason: reason}, &d)
	return &d, err
}

// RecallRequest recalls a package (owner).
func (c *Client) RecallRequest(ctx context.Context, requestID, reason string) (*api.Decision, error) {
	var d api.Decision
	_, err := c.postJSON(ctx, http.MethodPost, api.Prefix+"/medshare/requests/"+url.PathEscape(requestID)+"/recall", api.DecisionRequest{Reason: reason}, &d)
	return &d, err
}

func pageQuery(pageSize int, bookmark string) url.Values {
	v := url.Values{}
	if pageSize > 0 {
		v.Set("pageSize", strconv.Itoa(pageSize))
	}
	if bookmark != "" {
		v.Set("bookmark", bookmark)
	}
	return v
}

// TrailQuery names a trail: exactly one of User, Record, Owner.
type TrailQuery struct {
	User, Record, Owner string
	From, To            time.Time
	PageSize            int
	Bookmark            string
}

func (q TrailQuery) values() url.Values {
	v := pageQuery(q.PageSize, q.Bookmark)
	switch {
	case q.User != "":
		v.Set("user", q.User)
	case q.Record != "":
		v.Set("record", q.Record)
	default:
		v.Set("owner", q.Owner)
	}
	if !q.From.IsZero() {
		v.Set("from", q.From.UTC().Format(time.RFC3339))
	}
	if !q.To.IsZero() {
		v.Set("to", q.To.UTC().Format(time.RFC3339))
	}
	return v
}

// Trail reads a page of a trail as JSON.
func (c *Client) Trail(ctx context.Context, q TrailQuery) (*api.Trail, error) {
	var t api.Trail
	return &t, c.getJSON(ctx, api.Prefix+"/audit/trail?"+q.values().Encode(), &t)
}

// TrailAll reads every page of a trail.
func (c *Client) TrailAll(ctx context.Context, q TrailQuery) (*api.Trail, error) {
	q.PageSize = 100
	var all *api.Trail
	for {
		t, err := c.Trail(ctx, q)
		if err != nil {
			return nil, err
		}
		if all == nil {
			all = t
		} else {
			all.Items = append(all.Items, t.Items...)
		}
		if q.Bookmark = t.Bookmark; q.Bookmark == "" {
			all.Bookmark = ""
			return all, nil
		}
	}
}

// TrailFHIR reads a page of a trail as a FHIR R4 searchset Bundle.
func (c *Client) TrailFHIR(ctx context.Context, q TrailQuery) ([]byte, error) {
	v := q.values()
	v.Set("format", "fhir")
	var b []byte
	_, err := c.Do(ctx, http.MethodGet, api.Prefix+"/audit/trail?"+v.Encode(), "", nil, &b)
	return b, err
}

// Verify verifies a user's trail (user) or one request on every node.
func (c *Client) Verify(ctx context.Context, user, request string) (*api.Verification, error) {
	v := url.Values{}
	if user != "" {
		v.Set("user", user)
	} else {
		v.Set("request", request)
	}
	var out api.Verification
	return &out, c.getJSON(ctx, api.Prefix+"/audit/verify?"+v.Encode(), &out)
}

// RequestSpec is what a requestor asks for.
type RequestSpec struct {
	// Name is the request's name ("<user id>:" is prefixed); RecordIDs the
	// records, of one owner; Purpose an HL7 v3 PurposeOfUse code; Level the
	// sensitivity asked for (the side channel: the package holds nothing
	// above it).
	Name      string
	RecordIDs []string
	Purpose   string
	Level     string
	// Suite is the package key's HPKE suite (medpkg.SuiteX25519 when
	// zero).
	Suite medpkg.Suite
}

// Held is a package a requestor holds: everything its client keeps about
// one request — the private package and report keys (secret), the
// envelope, and the reporting state (the next report's sequence number,
// whether "decrypted" was reported).
type Held struct {
	Package    api.Package `json:"package"`
	PackageKey []byte      `json:"packageKey"`
	ReportKey  []byte      `json:"reportKey"`
	NextSeq    uint64      `json:"nextSeq"`
	Decrypted  bool        `json:"decrypted"`
	// Unsent are signed reports not yet delivered.
	Unsent []api.SignedReport `json:"unsent,omitempty"`
}

// Requestor is a MeDShare requestor's client. Its request key (RID) is
// User's, bound to its user id by the attribute authority's enrolment.
type Requestor struct {
	// Home is the requestor's own organisation's gateway: record metadata
	// (which names the owner's gateway) and reports go there.
	Home *Client
	// Gateway returns another organisation's gateway (requests go to the
	// owner's); when nil, Home resolves it through the registry on main,
	// pinned to the organisation's CA (Client.Organisation).
	Gateway func(msp, url string) (*Client, error)
	User    *txbuild.User
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (r *Requestor) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Requestor) owner(ctx context.Context, recordID string) (*Client, error) {
	rec, err := r.Home.Record(ctx, recordID)
	if err != nil {
		return nil, err
	}
	if r.Gateway != nil {
		return r.Gateway(rec.Owner, rec.OwnerGateway)
	}
	return r.Home.Organisation(ctx, rec.Owner)
}

// channelOf is the side channel of a level.
func channelOf(level string) (string, error) {
	for _, sc := range txbuild.SideChannels {
		if sc.Level == level {
			return sc.Channel, nil
		}
	}
	return "", fmt.Errorf("client: level %q: want low, medium or high", level)
}

// NewPackageRequest makes a request's keys and the signed request for the
// owner's gateway: the requestor's signature over the request digest and
// over the package key's binding to it.
func NewPackageRequest(user *txbuild.User, spec RequestSpec, now time.Time) (*api.PackageRequest, *medpkg.RequestKeys, error) {
	if len(spec.RecordIDs) == 0 {
		return nil, nil, errors.New("client: a request names at least one record")
	}
	ch, err := channelOf(spec.Level)
	if err != nil {
		return nil, nil, err
	}
	suite := spec.Suite
	if suite == (medpkg.Suite{}) {
		suite = medpkg.SuiteX25519
	}
	keys, err := medpkg.NewRequestKeys(rand.Reader, suite)
	if err != nil {
		return nil, nil, err
	}
	id := txbuild.RequestID(user.Enrolment.User, spec.Name)
	now = now.UTC()
	in, err := txbuild.SignRequest(user, ch, txbuild.Request{ID: id, RecordIDs: spec.RecordIDs, Purpose: spec.Purpose, Time: now, ReportKey: keys.Report.DER})
	if err != nil {
		return nil, nil, err
	}
	rd := provenance.RequestDigest(ch, id, in.RequestorKey, in.Requestor, in.RecordIDs, in.Purpose, now, in.ReportKey)
	binding, err := medpkg.SignKeyBinding(user.Key, ch, id, rd, keys.Package.Public())
	if err != nil {
		return nil, nil, err
	}
	return &api.PackageRequest{Channel: ch, PackageKey: keys.Package.Public().Bytes(), KeyBinding: binding, Request: &api.SignedRequest{
		RequestID: id, RequestorKey: in.RequestorKey, Requestor: in.Requestor, Enrolment: in.Enrolment, RecordIDs: in.RecordIDs,
		Purpose: in.Purpose, RequestTime: now, ReportKey: in.ReportKey, RequestSignature: in.RequestSignature}}, keys, nil
}

// Request sends a new signed request (NewPackageRequest) to the owner's
// gateway — the gateway the first record's metadata names — and returns
// the held package, its envelope opened and checked against the hash the
// gateway recorded.
func (r *Requestor) Request(ctx context.Context, spec RequestSpec) (*Held, error) {
	req, keys, err := NewPackageRequest(r.User, spec, r.now())
	if err != nil {
		return nil, err
	}
	owner, err := r.owner(ctx, spec.RecordIDs[0])
	if err != nil {
		return nil, err
	}
	p, err := owner.RequestPackage(ctx, req)
	if err != nil {
		return nil, err
	}
	h, err := Hold(p, keys)
	if err != nil {
		return nil, err
	}
	if _, _, err := h.Open(); err != nil {
		return nil, err
	}
	return h, nil
}

// Hold makes the held package of a delivered package and its request's
// keys.
func Hold(p *api.Package, keys *medpkg.RequestKeys) (*Held, error) {
	pk, err := keys.Package.MarshalBinary()
	if err != nil {
		return nil, err
	}
	rk, err := x509.MarshalECPrivateKey(keys.Report.Private)
	if err != nil {
		return nil, err
	}
	return &Held{Package: *p, PackageKey: pk, ReportKey: rk, NextSeq: 1}, nil
}

// ErrPackageHash: the envelope's hash is not the one recorded for the
// request.
var ErrPackageHash = errors.New("client: the package is not the one the parent block records")

// Open decrypts the held envelope with the package key and checks its hash
// against the packageHash the owner's gateway reported (which the parent
// block records: CheckRecorded checks it there).
func (h *Held) Open() (*medpkg.Package, [32]byte, error) {
	key, err := medpkg.ParsePrivateKey(h.PackageKey)
	if err != nil {
		return nil, [32]byte{}, err
	}
	p, hash, err := medpkg.Open(h.Package.Envelope, key, h.Package.RequestID)
	if err != nil {
		return nil, hash, err
	}
	if hex.EncodeToString(hash[:]) != h.Package.PackageHash {
		return nil, hash, ErrPackageHash
	}
	return p, hash, nil
}

// CheckRecorded checks the held package's hash against the parent block
// the ledger holds, read through the requestor's own gateway with its own
// rights (a read warrant).
func (r *Requestor) CheckRecorded(ctx context.Context, h *Held) error {
	rc, err := r.Home.Reading(ctx)
	if err != nil {
		return err
	}
	v, err := rc.RequestView(ctx, h.Package.RequestID)
	if err != nil {
		return err
	}
	if v.Block.Tx.PackageHash != h.Package.PackageHash || v.Channel != h.Package.Channel {
		return ErrPackageHash
	}
	return nil
}

// Session opens the held package and starts the client's session on it:
// every action is checked against the usage contract and recorded before
// it runs; Flush reports them.
func (h *Held) Session(clock func() time.Time) (*medpkg.Session, error) {
	p, hash, err := h.Open()
	if err != nil {
		return nil, err
	}
	priv, err := x509.ParseECPrivateKey(h.ReportKey)
	if err != nil {
		return nil, err
	}
	rk, err := txbuild.KeyOf(priv)
	if err != nil {
		return nil, err
	}
	s, err := medpkg.NewSession(p, hash, rk, h.NextSeq, clock)
	if err != nil {
		return nil, err
	}
	if !h.Decrypted {
		if err := s.Decrypted(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Flush signs every pending action of s as reports and sends them, with
// any report an earlier Flush could not deliver, through the requestor's
// own gateway, advancing h.NextSeq; persist h after each call (s may be
// nil: only the unsent reports are sent). A report
// that could not be sent stays in h.Unsent for the next Flush (a report the
// ledger already holds is refused as a replay and dropped).
func (r *Requestor) Flush(ctx context.Context, h *Held, s *medpkg.Session) ([]*api.ReportResult, error) {
	for s != nil {
		rep, err := s.Report()
		if err != nil {
			return nil, err
		}
		if rep == nil {
			break
		}
		sr := api.SignedReport{RequestID: rep.RequestID, Seq: rep.Seq, Signature: rep.Signature}
		for _, a := range rep.Actions {
			at, err := time.Parse(time.RFC3339Nano, a.At)
			if err != nil {
				return nil, err
			}
			sr.Actions = append(sr.Actions, api.ReportedAction{Action: a.Action, At: at})
		}
		h.Unsent = append(h.Unsent, sr)
		h.NextSeq = s.NextSeq()
	}
	var out []*api.ReportResult
	for len(h.Unsent) > 0 {
		sr := h.Unsent[0]
		res, err := r.Home.Report(ctx, &api.ReportRequest{Channel: h.Package.Channel, PackageHash: h.Package.PackageHash, Report: &sr})
		var pe *ProblemError
		switch {
		case errors.As(err, &pe) && pe.Field == "report.seq":
			// Recorded before (the answer was lost): nothing to resend.
		case err != nil:
			return out, err
		default:
			out = append(out, res)
		}
		for _, a := range sr.Actions {
			if a.Action == provenance.ActionDecrypted {
				h.Decrypted = true
			}
		}
		h.Unsent = h.Unsent[1:]
	}
	return out, nil
}
