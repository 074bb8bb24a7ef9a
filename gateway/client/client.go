// Package client is the Go client of the medshare gateway's REST API, and
// the data user's side of an access: it builds and signs access proofs with
// the user's own key, sends them to the owning organisation's gateway,
// fetches each granted level's object through the user's own organisation,
// checks it against checkCode, and decrypts the levels the user's ABE key
// opens. The user's signing key and ABE key never leave this process.
//
//	c, _ := client.New("https://127.0.0.1:8443", id)          // id: client.LoadIdentity(dir, caFiles...)
//	rec, _ := c.Record(ctx, "Bundle.9f…")
//	r := &client.Reader{Home: c, User: user, Key: abeKey, Assemble: grade.Assemble}
//	res, _ := r.Open(ctx, "Bundle.9f…", client.OpenOptions{})   // res.Document: the permitted part
//
// The CLI (medshare upload, records, access, …) and the end-to-end tests use
// it. It lives beside the gateway because it speaks its API (package
// gateway/api) and its storage format (package gateway/envelope).
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/network/identity"
)

// ProblemError is a problem the gateway answered (RFC 9457), with the HTTP
// status.
type ProblemError struct {
	api.Problem
}

func (e *ProblemError) Error() string {
	s := fmt.Sprintf("gateway: %d %s", e.Status, e.Title)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	return s
}

// Identity is a caller's TLS certificate, its signing identity (whose key
// signs proofs and enrolments) and the CAs it trusts.
type Identity struct {
	TLS    tls.Certificate
	Signer *identity.Signer
	Roots  *x509.CertPool
}

// LoadIdentity loads an identity directory (medshare crypto generate's
// layout) and trusts its own CA and caFiles.
func LoadIdentity(dir string, caFiles ...string) (*Identity, error) {
	d := identity.Dir(dir)
	cert, err := tls.LoadX509KeyPair(d.TLSCertFile(), d.TLSKeyFile())
	if err != nil {
		return nil, fmt.Errorf("client: TLS identity %s: %w", dir, err)
	}
	s, err := d.LoadSigner()
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, f := range append([]string{d.CAFile()}, caFiles...) {
		c, err := identity.ReadCertFile(f)
		if err != nil {
			return nil, err
		}
		pool.AddCert(c)
	}
	return &Identity{TLS: cert, Signer: s, Roots: pool}, nil
}

// Client calls one gateway.
type Client struct {
	base string
	id   *Identity
	hc   *http.Client
	// wrap wraps the transport New builds (and the transports of the
	// clients Organisation returns).
	wrap func(http.RoundTripper) http.RoundTripper
	// pinMSP and pinCA, when set, are the only organisation and CA whose
	// gateway certificate this client accepts.
	pinMSP string
	pinCA  *x509.Certificate

	mu   sync.Mutex
	orgs map[string]orgClient
}

type orgClient struct {
	c  *Client
	at time.Time
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient replaces the HTTP client (its transport must present the
// identity's certificate). It cannot be combined with WithOrganisation.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithRoundTripper wraps the transport the client builds, and those of the
// clients Organisation derives from it (tests observe requests with it).
func WithRoundTripper(wrap func(http.RoundTripper) http.RoundTripper) Option {
	return func(c *Client) { c.wrap = wrap }
}

// WithOrganisation pins the gateway's TLS certificate to one organisation:
// it must be issued by ca (that organisation's CA, not any consortium CA),
// name the gateway's host, be valid now, and carry the data owner role a
// gateway's identity has. A certificate of another organisation, a node, a
// doctor or an unknown CA fails the handshake (ErrNotOwnerGateway or an
// x509 error) before any request is sent.
func WithOrganisation(msp string, ca *x509.Certificate) Option {
	return func(c *Client) { c.pinMSP, c.pinCA = msp, ca }
}

// ErrNotOwnerGateway: a pinned gateway's certificate is its organisation's
// but does not carry the gateway's (data owner) role.
var ErrNotOwnerGateway = errors.New("client: the server's certificate is not a gateway identity of the organisation")

// Transport returns an HTTP transport presenting id's certificate and
// trusting its roots, TLS 1.3. It keeps up to 256 idle connections per
// gateway, so a client running a few hundred requests at once (an import,
// a benchmark) reuses its connections instead of paying a TLS handshake
// for most requests.
func Transport(id *Identity) *http.Transport {
	return &http.Transport{
		TLSClientConfig:     &tls.Config{Certificates: []tls.Certificate{id.TLS}, RootCAs: id.Roots, MinVersion: tls.VersionTLS13},
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
}

// PinnedTransport is Transport for one organisation's gateway: only ca
// (the organisation's CA) is trusted, and the certificate must carry the
// gateway's role (see WithOrganisation).
func PinnedTransport(id *Identity, msp string, ca *x509.Certificate) (*http.Transport, error) {
	m, err := identity.NewMSP(msp, ca)
	if err != nil {
		return nil, fmt.Errorf("client: the CA of %s: %w", msp, err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	t := Transport(id)
	t.TLSClientConfig.RootCAs = pool
	t.TLSClientConfig.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return ErrNotOwnerGateway
		}
		sid, err := m.Validate(cs.PeerCertificates[0].Raw, time.Now())
		if err != nil {
			return fmt.Errorf("%w: %w", ErrNotOwnerGateway, err)
		}
		if v, _ := sid.Attribute(api.RoleAttribute); sid.Role() != identity.RoleClient || v != api.GatewayRole {
			return fmt.Errorf("%w: %s has role %s and %s=%q", ErrNotOwnerGateway, sid, sid.Role(), api.RoleAttribute, v)
		}
		return nil
	}
	return t, nil
}

// New returns a client of the gateway at base (https://host:port) acting
// as id.
func New(base string, id *Identity, opts ...Option) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("client: gateway URL must be https://host:port, got %q", base)
	}
	c := &Client{base: u.Scheme + "://" + u.Host, id: id}
	for _, o := range opts {
		o(c)
	}
	if c.hc != nil && c.pinCA != nil {
		return nil, errors.New("client: WithHTTPClient and WithOrganisation exclude each other")
	}
	if c.hc == nil {
		var rt http.RoundTripper = Transport(id)
		if c.pinCA != nil {
			if rt, err = PinnedTransport(id, c.pinMSP, c.pinCA); err != nil {
				return nil, err
			}
		}
		if c.wrap != nil {
			rt = c.wrap(rt)
		}
		c.hc = &http.Client{Transport: rt, Timeout: 2 * time.Minute}
	}
	return c, nil
}

// Gateway resolves an organisation's gateway through this gateway (the
// caller's own organisation's): the URL the organisation's administrator
// registered in the index on main, or this gateway's configured override,
// and the organisation's CA.
func (c *Client) Gateway(ctx context.Context, msp string) (*api.Gateway, error) {
	var g api.Gateway
	return &g, c.getJSON(ctx, api.Prefix+"/gateways/"+url.PathEscape(msp), &g)
}

// orgTTL is how long Organisation reuses a resolved gateway.
const orgTTL = time.Minute

// Organisation returns a client of msp's gateway, resolved through this
// client's gateway (Gateway) and pinned to msp's CA and the gateway role
// (WithOrganisation). Resolutions are reused for a minute.
func (c *Client) Organisation(ctx context.Context, msp string) (*Client, error) {
	c.mu.Lock()
	oc, ok := c.orgs[msp]
	c.mu.Unlock()
	if ok && time.Since(oc.at) < orgTTL {
		return oc.c, nil
	}
	g, err := c.Gateway(ctx, msp)
	if err != nil {
		return nil, err
	}
	if g.Org != msp {
		return nil, fmt.Errorf("client: asked for the gateway of %s, told of %s's", msp, g.Org)
	}
	ca, err := identity.ParseCertPEM([]byte(g.CA))
	if err != nil {
		return nil, fmt.Errorf("client: the CA of %s: %w", msp, err)
	}
	oc.c, err = New(g.URL, c.id, WithOrganisation(msp, ca), WithRoundTripper(c.wrap))
	if err != nil {
		return nil, err
	}
	oc.at = time.Now()
	c.mu.Lock()
	if c.orgs == nil {
		c.orgs = map[string]orgClient{}
	}
	c.orgs[msp] = oc
	c.mu.Unlock()
	return oc.c, nil
}

// URL is the gateway's base URL.
func (c *Client) URL() string { return c.base }

// Identity is the client's identity.
func (c *Client) Identity() *Identity { return c.id }

// Do sends a request and decodes a JSON answer into out (when not nil). A
// problem answer is a *ProblemError.
func (c *Client) Do(ctx context.Context, method, path string, contentType string, body []byte, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", api.JSON+", "+api.ProblemJSON)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 96<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode >= 400 {
		pe := &ProblemError{}
		if mt == api.ProblemJSON && json.Unmarshal(raw, &pe.Problem) == nil {
			return resp.StatusCode, pe
		}
		pe.Status, pe.Title = resp.StatusCode, http.StatusText(resp.StatusCode)
		return resp.StatusCode, pe
	}
	if out == nil {
		return resp.StatusCode, nil
	}
	if b, ok := out.(*[]byte); ok {
		*b = raw
		return resp.StatusCode, nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return resp.StatusCode, fmt.Errorf("client: %s %s: answer: %w", method, path, err)
	}
	return resp.StatusCode, nil
}

func (c *Client) getJSON(ctx context.Context, path string, out any) error {
	_, err := c.Do(ctx, http.MethodGet, path, "", nil, out)
	return err
}

func (c *Client) postJSON(ctx context.Context, method, path string, in, out any) (int, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return 0, err
	}
	return c.Do(ctx, method, path, api.JSON, b, out)
}

// Whoami returns the caller as the gateway sees it.
func (c *Client) Whoami(ctx context.Context) (*api.Principal, error) {
	var p api.Principal
	return &p, c.getJSON(ctx, api.Prefix+"/whoami", &p)
}

// AuthorityParams returns the attribute authority's public parameters.
func (c *Client) AuthorityParams(ctx context.Context) (*api.AuthorityParams, error) {
	var p api.AuthorityParams
	return &p, c.getJSON(ctx, api.Prefix+"/authority/params", &p)
}

// AuthorityTagKey returns the authority's tag key (data owners only).
func (c *Client) AuthorityTagKey(ctx context.Context) (*api.TagKey, error) {
	var t api.TagKey
	return &t, c.getJSON(ctx, api.Prefix+"/authority/tag-key", &t)
}

// enrolRequest signs an enrolment with the identity's signing key over the
// TLS certificate this client presents.
func (c *Client) enrolRequest(signer *identity.Signer) (*api.EnrolRequest, error) {
	if len(c.id.TLS.Certificate) == 0 {
		return nil, errors.New("client: no TLS certificate")
	}
	now := time.Now().UTC()
	d := api.EnrolDigest(c.id.TLS.Certificate[0], now)
	sig, err := signer.SignDigest(d[:])
	if err != nil {
		return nil, err
	}
	return &api.EnrolRequest{Certificate: string(identity.EncodeCertPEM(signer.Certificate())), Time: now, Signature: sig}, nil
}

// Enrol asks the attribute authority for the caller's ABE key and tag
// credential, for the attributes of its certificate.
func (c *Client) Enrol(ctx context.Context) (*api.Enrolment, error) {
	req, err := c.enrolRequest(c.id.Signer)
	if err != nil {
		return nil, err
	}
	var e api.Enrolment
	_, err = c.postJSON(ctx, http.MethodPost, api.Prefix+"/authority/keys", req, &e)
	return &e, err
}

// EnrolCustodian asks the attribute authority for a data owner's custodian
// key (signer is the owner gateway's signing identity, which must be the
// client's).
func (c *Client) EnrolCustodian(ctx context.Context, signer *identity.Signer) (*api.Enrolment, error) {
	req, err := c.enrolRequest(signer)
	if err != nil {
		return nil, err
	}
	var e api.Enrolment
	_, err = c.postJSON(ctx, http.MethodPost, api.Prefix+"/authority/custodian-keys", req, &e)
	return &e, err
}

// RotateEpoch moves the authority to its next epoch (authority role).
func (c *Client) RotateEpoch(ctx context.Context) (*api.Epoch, error) {
	var e api.Epoch
	_, err := c.Do(ctx, http.MethodPost, api.Prefix+"/authority/epoch", "", nil, &e)
	return &e, err
}

// Upload stores a new record (owner role, at the owner's own gateway). The
// answer's Indexed is false when its index entry is pending (HTTP 202).
func (c *Client) Upload(ctx context.Context, req *api.UploadRequest) (*api.Upload, error) {
	var u api.Upload
	_, err := c.postJSON(ctx, http.MethodPost, api.Prefix+"/records", req, &u)
	return &u, err
}

// UploadSealed stores a record the owner sealed on its own side.
func (c *Client) UploadSealed(ctx context.Context, req *api.SealedUpload) (*api.Upload, error) {
	var u api.Upload
	_, err := c.postJSON(ctx, http.MethodPost, api.Prefix+"/records/sealed", req, &u)
	return &u, err
}

// Update stores a new version of a record.
func (c *Client) Update(ctx context.Context, id string, req *api.UploadRequest) (*api.Upload, error) {
	var u api.Upload
	_, err := c.postJSON(ctx, http.MethodPut, api.Prefix+"/records/"+url.PathEscape(id), req, &u)
	return &u, err
}

// FindQuery filters a record search.
type FindQuery struct {
	Owner    string
	Type     string
	From, To time.Time
	PageSize int
	Bookmark string
}

// Find searches the index.
func (c *Client) Find(ctx context.Context, q FindQuery) (*api.RecordPage, error) {
	v := url.Values{}
	if q.Owner != "" {
		v.Set("owner", q.Owner)
	}
	if q.Type != "" {
		v.Set("type", q.Type)
	}
	if !q.From.IsZero() {
		v.Set("from", q.From.UTC().Format(time.RFC3339))
	}
	if !q.To.IsZero() {
		v.Set("to", q.To.UTC().Format(time.RFC3339))
	}
	if q.PageSize > 0 {
		v.Set("pageSize", strconv.Itoa(q.PageSize))
	}
	if q.Bookmark != "" {
		v.Set("bookmark", q.Bookmark)
	}
	var p api.RecordPage
	return &p, c.getJSON(ctx, api.Prefix+"/records?"+v.Encode(), &p)
}

// Record returns a record's metadata.
func (c *Client) Record(ctx context.Context, id string) (*api.Record, error) {
	var r api.Record
	return &r, c.getJSON(ctx, api.Prefix+"/records/"+url.PathEscape(id), &r)
}

// Level returns what a proof for one level needs.
func (c *Client) Level(ctx context.Context, id, level string) (*api.Level, error) {
	var l api.Level
	return &l, c.getJSON(ctx, api.Prefix+"/records/"+url.PathEscape(id)+"/levels/"+url.PathEscape(level), &l)
}

// Access submits a proof for one level to the record owner's gateway. A
// refusal is a *ProblemError with P-TL's Reason and ViolationID.
func (c *Client) Access(ctx context.Context, id string, req *api.AccessRequest) (*api.Grant, error) {
	var g api.Grant
	_, err := c.postJSON(ctx, http.MethodPost, api.Prefix+"/records/"+url.PathEscape(id)+"/access", req, &g)
	return &g, err
}

// Object fetches a stored object through the gateway's IPFS node. It is
// not checked here: Reader checks it against checkCode.
func (c *Client) Object(ctx context.Context, cid string) ([]byte, error) {
	var b []byte
	_, err := c.Do(ctx, http.MethodGet, api.Prefix+"/objects/"+url.PathEscape(cid), "", nil, &b)
	return b, err
}

// Violations lists the violations on the owner's records (id "" = all).
func (c *Client) Violations(ctx context.Context, id string, pageSize int, bookmark string) (*api.ViolationPage, error) {
	v := url.Values{}
	if pageSize > 0 {
		v.Set("pageSize", strconv.Itoa(pageSize))
	}
	if bookmark != "" {
		v.Set("bookmark", bookmark)
	}
	path := api.Prefix + "/violations"
	if id != "" {
		path = api.Prefix + "/records/" + url.PathEscape(id) + "/violations"
	}
	var p api.ViolationPage
	return &p, c.getJSON(ctx, path+"?"+v.Encode(), &p)
}

// Regrant lifts a user's block.
func (c *Client) Regrant(ctx context.Context, id string, req *api.RegrantRequest) (*api.Regrant, error) {
	var r api.Regrant
	_, err := c.postJSON(ctx, http.MethodPost, api.Prefix+"/records/"+url.PathEscape(id)+"/regrant", req, &r)
	return &r, err
}

// Recall re-encrypts a record and blocks a user.
func (c *Client) Recall(ctx context.Context, id string, req *api.RecallRequest) (*api.Recall, error) {
	var r api.Recall
	_, err := c.postJSON(ctx, http.MethodPost, api.Prefix+"/records/"+url.PathEscape(id)+"/recall", req, &r)
	return &r, err
}
