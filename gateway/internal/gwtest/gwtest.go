// Package gwtest builds an in-process consortium for the gateway's unit
// tests: three organisations with their CAs and members (TLS and signing
// certificates with REST roles and attributes), the contracts in memory
// (memledger), an in-memory IPFS swarm, a simple JSON grader, and one
// gateway per organisation served over HTTPS with mutual TLS on loopback
// (hospital 1's also serves the attribute authority). End-to-end tests on
// real processes live elsewhere; this is for testing one package.
package gwtest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/medshare/medshare/abe"
	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/gateway"
	"github.com/medshare/medshare/gateway/aa"
	"github.com/medshare/medshare/gateway/client"
	"github.com/medshare/medshare/gateway/grade"
	"github.com/medshare/medshare/gateway/indexcache"
	"github.com/medshare/medshare/gateway/internal/memledger"
	"github.com/medshare/medshare/gateway/ledger"
	"github.com/medshare/medshare/network/identity"
)

// MSP ids of the three organisations.
const (
	H1 = "Hospital1MSP"
	H2 = "Hospital2MSP"
	RI = "ResearchMSP"
)

// Orgs are the organisations, in order.
var Orgs = []string{H1, H2, RI}

// Member is an identity: its signing identity and its TLS certificate.
type Member struct {
	Signer *identity.Signer
	TLS    tls.Certificate
	ID     *client.Identity
}

// Consortium is the in-process network.
type Consortium struct {
	T       testing.TB
	CAs     map[string]*identity.CA
	Roots   *x509.CertPool
	Members *identity.Membership
	Ledger  *memledger.Network
	Swarm   *Swarm
	AAKey   *ecdsa.PrivateKey
	AA      *aa.Service
	// Gateways and their servers, by MSP id.
	// Check, when set, sees every response a Client gets (the OpenAPI
	// conformance test validates them).
	Check func(req *http.Request, resp *http.Response, body []byte)
	// Auditor is the auditor the contracts' configuration names.
	Auditor *Member
	// Log holds every gateway's log lines, at debug level.
	Log      *SyncBuffer
	Servers  map[string]*gateway.Server
	HTTP     map[string]*httptest.Server
	GwMember map[string]*Member
	Objects  map[string]*Node
	replicas []replica

	configure   func(msp string, cfg *gateway.Config)
	replication func(msp string) gateway.Replication
	fhir        bool
	indexCache  bool
	indexWrap   func(msp string, s indexcache.Source) indexcache.Source
}

func validity() (time.Time, time.Time) {
	return time.Now().Add(-time.Hour), time.Now().Add(24 * time.Hour)
}

// Option adjusts the consortium New builds.
type Option func(*Consortium)

// WithConfig adjusts each gateway's configuration before it starts.
func WithConfig(f func(msp string, cfg *gateway.Config)) Option {
	return func(c *Consortium) { c.configure = f }
}

// WithReplication gives each gateway the replication follower f returns
// (nil: none).
func WithReplication(f func(msp string) gateway.Replication) Option {
	return func(c *Consortium) { c.replication = f }
}

// WithIndexCache gives each gateway an index cache following the
// in-memory main channel's index events.
func WithIndexCache() Option { return func(c *Consortium) { c.indexCache = true } }

// WithIndexEvents gives each gateway an index cache, as WithIndexCache,
// following the events f makes of main's (a test holds them back to make a
// gateway's cache trail the ledger).
func WithIndexEvents(f func(msp string, s indexcache.Source) indexcache.Source) Option {
	return func(c *Consortium) { c.indexCache, c.indexWrap = true, f }
}

// WithFHIR grades with the FHIR grader's default rules (gateway/grade)
// instead of the flat JSON grader, and lets the gateways answer MeDShare
// requests (gateway.NewMedShare with the default rules).
func WithFHIR() Option { return func(c *Consortium) { c.fhir = true } }

// New builds the consortium and starts the three gateways.
func New(t testing.TB, opts ...Option) *Consortium {
	t.Helper()
	c := &Consortium{T: t, CAs: map[string]*identity.CA{}, Roots: x509.NewCertPool(), Servers: map[string]*gateway.Server{},
		HTTP: map[string]*httptest.Server{}, GwMember: map[string]*Member{}, Objects: map[string]*Node{}, Log: &SyncBuffer{}}
	for _, o := range opts {
		o(c)
	}
	nb, na := validity()
	var msps []*identity.MSP
	for _, msp := range Orgs {
		ca, err := identity.NewCA(rand.Reader, msp, msp, "ca."+msp, nb.Add(-time.Hour), na.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		c.CAs[msp] = ca
		c.Roots.AddCert(ca.Certificate())
		m, err := identity.NewMSP(msp, ca.Certificate())
		if err != nil {
			t.Fatal(err)
		}
		msps = append(msps, m)
	}
	var err error
	if c.Members, err = identity.NewMembership(msps...); err != nil {
		t.Fatal(err)
	}
	if c.AAKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	aaDER, _ := x509.MarshalPKIXPublicKey(&c.AAKey.PublicKey)
	admins := []*identity.Signer{c.Member(H1, "admin", identity.RoleAdmin, nil).Signer, c.Member(H2, "admin", identity.RoleAdmin, nil).Signer}
	c.Auditor = c.Member(RI, "auditor", identity.RoleClient, map[string]string{gateway.AuditorAttribute: "true"})
	c.Ledger = memledger.New(t, c.Members, admins, aaDER, []string{c.Auditor.Signer.ID()})
	c.Swarm = NewSwarm()
	if c.AA, err = aa.Open(rand.Reader, t.TempDir()+"/aa.json", c.AAKey, abe.MSC, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, msp := range Orgs {
		c.startGateway(msp)
	}
	t.Cleanup(c.Close)
	// Each organisation's administrator registers its gateway on main, as
	// deployments do: gateways and clients find each other there.
	for _, msp := range Orgs {
		if err := c.RegisterGateway(msp, c.URL(msp)); err != nil {
			t.Fatalf("register %s's gateway: %v", msp, err)
		}
	}
	return c
}

// Close stops the gateways.
func (c *Consortium) Close() {
	for _, h := range c.HTTP {
		h.Close()
	}
	for _, s := range c.Servers {
		s.Close()
	}
	for _, r := range c.replicas {
		r.h.Close()
		r.s.Close()
	}
}

type replica struct {
	s *gateway.Server
	h *httptest.Server
}

// Member issues a member of org with a REST role given by role (admin) or
// attrs (medshare.role, …).
func (c *Consortium) Member(org, name string, role identity.Role, attrs map[string]string) *Member {
	t := c.T
	t.Helper()
	ca := c.CAs[org]
	nb, na := validity()
	s, err := ca.IssueSigner(rand.Reader, identity.Request{CommonName: name, Role: role, Attributes: attrs, NotBefore: nb, NotAfter: na})
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Issue(rand.Reader, identity.Request{CommonName: name, Role: role, Attributes: attrs, TLS: true,
		Hosts: []string{"127.0.0.1", "localhost"}, NotBefore: nb, NotAfter: na})
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	return &Member{Signer: s, TLS: tc, ID: &client.Identity{TLS: tc, Signer: s, Roots: c.Roots}}
}

// User issues a data user of org with ABE attributes.
func (c *Consortium) User(org, name string, attrs map[string]string) *Member {
	a := map[string]string{gateway.RoleAttribute: string(gateway.RoleUser)}
	for k, v := range attrs {
		a[k] = v
	}
	return c.Member(org, name, identity.RoleClient, a)
}

// Owner issues a data owner (a hospital operator) of org.
func (c *Consortium) Owner(org, name string) *Member {
	return c.Member(org, name, identity.RoleClient, map[string]string{gateway.RoleAttribute: string(gateway.RoleOwner)})
}

// URL is org's gateway URL.
func (c *Consortium) URL(org string) string { return c.HTTP[org].URL }

// Client returns a client of org's gateway acting as m (nil: no client
// certificate).
func (c *Consortium) Client(org string, m *Member) *client.Client {
	return c.ClientAt(c.URL(org), m)
}

// Admin issues an administrator of org.
func (c *Consortium) Admin(org string) *Member {
	return c.Member(org, "admin", identity.RoleAdmin, nil)
}

// RegisterGateway has org's administrator register url as org's gateway
// in the index on main (index SetGateway).
func (c *Consortium) RegisterGateway(org, url string) error {
	ch := &ledger.Chain{L: c.Ledger.As(c.Admin(org).Signer)}
	_, _, err := ch.SetGateway(context.Background(), org, url)
	return err
}

func (c *Consortium) startGateway(msp string) {
	gm := c.Member(msp, "gateway."+msp, identity.RoleClient, map[string]string{gateway.RoleAttribute: string(gateway.RoleOwner)})
	c.GwMember[msp] = gm
	c.Servers[msp], c.HTTP[msp] = c.newGateway(msp, gm)
}

// StartReplica starts a second gateway of org, with the same identity, as
// an organisation running several behind a load balancer does; it is not
// registered on main and stops with the consortium.
func (c *Consortium) StartReplica(msp string) (*gateway.Server, *httptest.Server) {
	s, h := c.newGateway(msp, c.GwMember[msp])
	c.replicas = append(c.replicas, replica{s, h})
	return s, h
}

// ClientAt is Client for the gateway at url (a replica's).
func (c *Consortium) ClientAt(url string, m *Member) *client.Client {
	id := &client.Identity{Roots: c.Roots}
	if m != nil {
		id = m.ID
	}
	var opts []client.Option
	if check := c.Check; check != nil {
		opts = append(opts, client.WithRoundTripper(func(rt http.RoundTripper) http.RoundTripper { return checking{rt: rt, check: check} }))
	}
	cl, err := client.New(url, id, opts...)
	if err != nil {
		c.T.Fatal(err)
	}
	return cl
}

func (c *Consortium) newGateway(msp string, gm *Member) (*gateway.Server, *httptest.Server) {
	t := c.T
	cfg := gateway.Default()
	cfg.MSPID = msp
	cfg.Identity, cfg.CAs = "unused", map[string]string{msp: "unused"}
	cfg.DataDir = t.TempDir()
	cfg.RequestTimeout = 20 * time.Second
	if c.configure != nil {
		c.configure(msp, &cfg)
	}
	node := c.Swarm.Node(msp)
	c.Objects[msp] = node
	d := gateway.Deps{Ledger: c.Ledger.As(gm.Signer), Signer: gm.Signer, Membership: c.Members, Objects: node, Grader: JSONGrader{},
		Logger: slog.New(slog.NewTextHandler(c.Log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if c.replication != nil {
		d.Replication = c.replication(msp)
	}
	if c.indexCache {
		d.IndexEvents = c.Ledger.IndexEvents()
		if c.indexWrap != nil {
			d.IndexEvents = c.indexWrap(msp, d.IndexEvents)
		}
	}
	if c.fhir {
		g, err := grade.New(grade.DefaultRules())
		if err != nil {
			t.Fatal(err)
		}
		d.Grader = gateway.FHIRGrader{G: g}
		if d.MedShare, err = gateway.NewMedShare(cfg.MedShare, grade.DefaultRules()); err != nil {
			t.Fatal(err)
		}
	}
	var src gateway.AuthoritySource
	if msp == H1 {
		d.Authority = c.AA
		cfg.Authority.Serve = true
		src = gateway.LocalAuthority{Service: c.AA}
	} else {
		aaClient, err := client.New(c.URL(H1), gm.ID, client.WithOrganisation(H1, c.CAs[H1].Certificate()))
		if err != nil {
			t.Fatal(err)
		}
		src = aaClient
	}
	keys, err := gateway.NewKeyring(src, gm.Signer, cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	d.Keys = keys
	s, err := gateway.New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	h := httptest.NewUnstartedServer(s.Handler())
	h.TLS = gateway.TLSConfig(gm.TLS)
	// The request limits of the gateway's own server.
	real := s.HTTPServer(gm.TLS)
	h.Config.ReadHeaderTimeout, h.Config.ReadTimeout, h.Config.WriteTimeout = real.ReadHeaderTimeout, real.ReadTimeout, real.WriteTimeout
	h.Config.IdleTimeout, h.Config.MaxHeaderBytes = real.IdleTimeout, real.MaxHeaderBytes
	h.StartTLS()
	return s, h
}

// Enrol has the authority issue m's ABE key and credential and returns the
// reader's User and key.
func (c *Consortium) Enrol(m *Member, org string) (*txbuild.User, *abe.UserKey) {
	t := c.T
	t.Helper()
	e, err := c.Client(H1, m).Enrol(context.Background())
	if err != nil {
		t.Fatalf("enrol %s: %v", m.Signer.Name(), err)
	}
	u, uk, err := client.UserOf(m.ID, e)
	if err != nil {
		t.Fatal(err)
	}
	return u, uk
}

// Reader returns a reader for a user of org. It finds the owner's gateway
// as deployed readers do: through its own gateway (the registry on main),
// pinned to the owner's CA and the gateway role.
func (c *Consortium) Reader(org string, m *Member) *client.Reader {
	u, uk := c.Enrol(m, org)
	return &client.Reader{Home: c.Client(org, m), User: u, Key: uk, Assemble: Assemble}
}

// SyncBuffer is a buffer safe for concurrent writers.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type checking struct {
	rt    http.RoundTripper
	check func(*http.Request, *http.Response, []byte)
}

func (c checking) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.rt.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	c.check(req, resp, body)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// Swarm is an in-memory IPFS swarm: one block store, a pin set per node.
type Swarm struct {
	mu     sync.Mutex
	blocks map[string][]byte
}

// NewSwarm returns an empty swarm.
func NewSwarm() *Swarm { return &Swarm{blocks: map[string][]byte{}} }

// Node is one organisation's IPFS node in the swarm.
type Node struct {
	s    *Swarm
	name string
	mu   sync.Mutex
	pins map[string]bool
	down bool
}

// Node returns a node of the swarm.
func (s *Swarm) Node(name string) *Node { return &Node{s: s, name: name, pins: map[string]bool{}} }

// SetDown makes the node unreachable (true) or reachable.
func (n *Node) SetDown(down bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.down = down
}

func (n *Node) check() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.down {
		return fmt.Errorf("%w: %s's kubo is down", gateway.ErrIPFSUnavailable, n.name)
	}
	return nil
}

// Add implements gateway.Objects.
func (n *Node) Add(_ context.Context, data []byte) (string, error) {
	if err := n.check(); err != nil {
		return "", err
	}
	cid := txbuild.RawCID(data)
	n.s.mu.Lock()
	n.s.blocks[cid] = append([]byte(nil), data...)
	n.s.mu.Unlock()
	n.mu.Lock()
	n.pins[cid] = true
	n.mu.Unlock()
	return cid, nil
}

// AddTx implements gateway.Objects: undo unpins only a pin this call
// made (the real client's AddTx also tracks concurrent uploads of the same
// bytes; tests here run one at a time).
func (n *Node) AddTx(ctx context.Context, data []byte) (string, func(), func(context.Context) error, error) {
	cid := txbuild.RawCID(data)
	n.mu.Lock()
	before := n.pins[cid]
	n.mu.Unlock()
	if _, err := n.Add(ctx, data); err != nil {
		return "", nil, nil, err
	}
	undo := func(ctx context.Context) error {
		if before {
			return nil
		}
		return n.Unpin(ctx, cid)
	}
	return cid, func() {}, undo, nil
}

// Cat implements gateway.Objects.
func (n *Node) Cat(_ context.Context, cid string) ([]byte, error) {
	if err := n.check(); err != nil {
		return nil, err
	}
	n.s.mu.Lock()
	defer n.s.mu.Unlock()
	b, ok := n.s.blocks[cid]
	if !ok {
		return nil, gateway.ErrObjectNotFound
	}
	return append([]byte(nil), b...), nil
}

// Unpin implements gateway.Objects.
func (n *Node) Unpin(_ context.Context, cid string) error {
	if err := n.check(); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.pins, cid)
	return nil
}

// Ready implements gateway.Objects.
func (n *Node) Ready(context.Context) error { return n.check() }

// Pinned lists the node's pins, sorted.
func (n *Node) Pinned() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for c := range n.pins {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Tamper changes one byte of a stored object, as a corrupted or malicious
// IPFS node would serve it.
func (s *Swarm) Tamper(cid string, at int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.blocks[cid]
	b[at%len(b)] ^= 0x40
}

// JSONGrader grades a flat JSON object for tests: "name", "ssn" and
// "phone" are high; "birthDate" and "city" medium; everything else low.
// The kind is its "resourceType", or "json".
type JSONGrader struct{}

var testLevels = map[string]policy.Level{"name": policy.High, "ssn": policy.High, "phone": policy.High, "birthDate": policy.Medium, "city": policy.Medium}

// Grade implements gateway.Grader.
func (JSONGrader) Grade(doc []byte) (*gateway.Graded, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil || m == nil {
		return nil, &gateway.FieldError{Field: "document", Err: errors.New("not a JSON object")}
	}
	g := &gateway.Graded{Kind: "json"}
	var rt string
	if json.Unmarshal(m["resourceType"], &rt) == nil && rt != "" {
		g.Kind = rt
	}
	parts := [policy.NumLevels]map[string]json.RawMessage{}
	for k, v := range m {
		l, ok := testLevels[k]
		if !ok {
			l = policy.Low
		}
		if parts[l] == nil {
			parts[l] = map[string]json.RawMessage{}
		}
		parts[l][k] = v
		g.Counts[l]++
	}
	for l, p := range parts {
		if p != nil {
			g.Levels[l], _ = json.Marshal(p)
		}
	}
	return g, nil
}

// Assemble merges opened levels back into one object.
func Assemble(opened [policy.NumLevels][]byte) ([]byte, error) {
	out := map[string]json.RawMessage{}
	for _, b := range opened {
		if b == nil {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		for k, v := range m {
			out[k] = v
		}
	}
	return json.Marshal(out)
}
