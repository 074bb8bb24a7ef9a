// Package gateway is an organisation's REST gateway to medshare: hospitals
// upload FHIR records (graded into three sensitivity levels, sealed with
// AES-256-GCM under MSC-CP-ABE, stored in IPFS, recorded with Tx_sto on the
// side chains and indexed on main); data users find records and submit
// signed access proofs to P-TL through the owning organisation's gateway;
// owners list violations, re-grant and recall; one gateway may also serve
// the attribute authority.
//
// The gateway authenticates every caller with mutual TLS: the certificate,
// issued by a consortium organisation's CA, gives the REST role (see Role).
// Handlers are thin — decode strictly, validate, call the domain code, render
// — and every error reaches the client as an RFC 9457 problem (Problem).
// Private keys of data users never reach a gateway: proofs are signed and
// records decrypted on the user's side (package gateway/client).
package gateway

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/medshare/medshare/gateway/aa"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/indexcache"
	"github.com/medshare/medshare/gateway/ledger"
	"github.com/medshare/medshare/network/identity"
)

// Deps are what a gateway talks to. Ledger, Signer, Membership and Logger
// are required; Objects, Grader and Keys serve the data routes; Authority
// is set when the gateway serves the attribute authority.
type Deps struct {
	// Ledger submits as the gateway's identity, whose key Signer holds.
	Ledger ledger.Ledger
	Signer *identity.Signer
	// Membership validates callers' certificates (the consortium's CAs).
	Membership *identity.Membership
	Objects    Objects
	Grader     Grader
	Keys       Keys
	Authority  *aa.Service
	// Replication is the follower pinning what the side chains store into
	// this organisation's kubo: /readyz reports its lag, and its metrics
	// join the gateway's when it is a prometheus.Collector.
	Replication Replication
	Logger      *slog.Logger
	// MedShare answers MeDShare requests (nil: this gateway does not);
	// Blocks locates transactions in blocks (the audit trail's block
	// numbers); Nodes reaches the consortium's nodes for verification
	// across them. Both optional.
	MedShare *MedShare
	Blocks   ledger.Blocks
	Nodes    Nodes
	// IndexEvents, when set, lets the gateway keep a cache of main's
	// index entries fresh by the index chaincode's events (package
	// gateway/indexcache): record metadata and accesses then read no
	// index entry from the node. Nil: every read goes to the node.
	IndexEvents indexcache.Source
	// Rand is the randomness source (crypto/rand when nil); Now the clock
	// (time.Now when nil).
	Rand io.Reader
	Now  func() time.Time
}

// Route is one REST route: method, gin path, who may call it, its OpenAPI
// operation id and its handler.
type Route struct {
	Method      string
	Path        string
	OperationID string
	Access      Access
	handle      func(c *gin.Context, p *Principal) error
}

// Server is a running gateway's HTTP side.
type Server struct {
	cfg    Config
	d      Deps
	chain  *ledger.Chain
	m      *metrics
	routes []Route
	engine *gin.Engine
	log    *slog.Logger

	journal  *journal
	idx      *indexcache.Cache // nil: no cache
	keys     *grantKeys
	auditors auditorCache
	gateways gatewayCache
	bg       sync.WaitGroup
	logQ     chan accessLogEntry
	stop     chan struct{}
	stopped  sync.Once
}

// New builds a gateway from a validated configuration and its
// dependencies. Close stops its background work.
func New(cfg Config, d Deps) (*Server, error) {
	if d.Ledger == nil || d.Signer == nil || d.Membership == nil || d.Logger == nil {
		return nil, errors.New("gateway: Ledger, Signer, Membership and Logger are required")
	}
	if d.Rand == nil {
		d.Rand = rand.Reader
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Signer.MSPID() != cfg.MSPID {
		return nil, fmt.Errorf("gateway: the identity belongs to %s, the configuration serves %s", d.Signer.MSPID(), cfg.MSPID)
	}
	s := &Server{cfg: cfg, d: d, m: newMetrics(), log: d.Logger, stop: make(chan struct{}), logQ: make(chan accessLogEntry, 4096),
		keys: newGrantKeys(64 << 20)}
	s.d.Ledger = timedLedger{l: d.Ledger, m: s.m}
	if d.Objects != nil {
		s.d.Objects = timedObjects{o: d.Objects, m: s.m}
	}
	s.chain = &ledger.Chain{L: s.d.Ledger, Signer: d.Signer}
	j, err := openJournal(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s.journal = j
	s.m.pending.Set(float64(j.len()))
	if col, ok := d.Replication.(prometheus.Collector); ok {
		if err := s.m.reg.Register(col); err != nil {
			return nil, fmt.Errorf("gateway: replication metrics: %w", err)
		}
	}
	if d.IndexEvents != nil {
		ic := indexcache.DefaultConfig()
		ic.Logger = d.Logger.With("part", "indexcache")
		if s.idx, err = indexcache.New(d.IndexEvents, ic); err != nil {
			return nil, err
		}
		s.m.watchIndexCache(s.idx)
		ctx, cancel := context.WithCancel(context.Background())
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			<-s.stop
			cancel()
		}()
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			_ = s.idx.Run(ctx)
		}()
	}
	s.routes = s.buildRoutes()
	s.engine = s.buildEngine()
	s.bg.Add(2)
	go s.retryPending()
	go s.logAccesses()
	return s, nil
}

// Close stops the background work (index retries, the access log) after
// the queued access-log entries are written or ctx ends.
func (s *Server) Close() {
	s.stopped.Do(func() { close(s.stop) })
	s.bg.Wait()
}

// Routes returns the route table: the single statement of who may call
// what (docs/api.md renders it).
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// Handler is the gateway's HTTP handler.
func (s *Server) Handler() http.Handler { return s.engine }

// Metrics serves the Prometheus registry (for tests).
func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{})
}

func (s *Server) buildRoutes() []Route {
	all := []Role{RoleOwner, RoleUser, RoleAuthority, RoleAuditor, RoleAdmin}
	readers := []Role{RoleUser, RoleOwner, RoleAuditor}
	p := api.Prefix
	rs := []Route{
		{"GET", "/healthz", "health", Access{Public: true}, s.health},
		{"GET", "/readyz", "ready", Access{Public: true}, s.ready},
		{"GET", "/metrics", "metrics", Access{Roles: []Role{RoleAdmin}, OwnOrg: true}, s.metricsRoute},
		{"GET", p + "/openapi.json", "openapi", Access{Public: true}, s.openapi},
		{"GET", p + "/whoami", "whoami", Access{Roles: all}, s.whoami},
		{"POST", p + "/records", "uploadRecord", Access{Roles: []Role{RoleOwner}, OwnOrg: true}, s.upload},
		{"POST", p + "/records/sealed", "uploadSealed", Access{Roles: []Role{RoleOwner}, OwnOrg: true}, s.uploadSealed},
		{"GET", p + "/records", "findRecords", Access{Roles: readers}, s.find},
		{"GET", p + "/records/:id", "getRecord", Access{Roles: readers}, s.getRecord},
		{"PUT", p + "/records/:id", "updateRecord", Access{Roles: []Role{RoleOwner}, OwnOrg: true}, s.update},
		{"GET", p + "/records/:id/levels/:level", "getLevel", Access{Roles: readers}, s.getLevel},
		{"POST", p + "/records/:id/access", "accessRecord", Access{Roles: []Role{RoleUser}}, s.access},
		{"GET", p + "/records/:id/violations", "listRecordViolations", Access{Roles: []Role{RoleOwner, RoleAuditor}, OwnOrg: true}, s.recordViolations},
		{"POST", p + "/records/:id/regrant", "regrant", Access{Roles: []Role{RoleOwner}, OwnOrg: true}, s.regrant},
		{"POST", p + "/records/:id/recall", "recall", Access{Roles: []Role{RoleOwner}, OwnOrg: true}, s.recall},
		{"GET", p + "/violations", "listViolations", Access{Roles: []Role{RoleOwner, RoleAuditor}, OwnOrg: true}, s.violations},
		{"GET", p + "/objects/:cid", "getObject", Access{Roles: []Role{RoleUser, RoleOwner}}, s.object},
		{"GET", p + "/gateways/:msp", "getGateway", Access{Roles: all}, s.getGateway},
	}
	rs = append(rs, s.medshareRoutes()...)
	if s.d.Authority != nil {
		aaOnly := func(roles ...Role) Access { return Access{Roles: roles, OnlyAuthority: true} }
		rs = append(rs,
			Route{"GET", p + "/authority/params", "authorityParams", aaOnly(all...), s.authorityParams},
			Route{"GET", p + "/authority/tag-key", "authorityTagKey", aaOnly(RoleOwner), s.authorityTagKey},
			Route{"POST", p + "/authority/keys", "enrolUser", aaOnly(RoleUser), s.enrolUser},
			Route{"POST", p + "/authority/custodian-keys", "enrolCustodian", aaOnly(RoleOwner), s.enrolCustodian},
			Route{"POST", p + "/authority/epoch", "rotateEpoch", aaOnly(RoleAuthority), s.rotateEpoch},
		)
	}
	return rs
}

type ctxKey int

const principalKey ctxKey = 0

func (s *Server) buildEngine() *gin.Engine {
	gin.SetMode(gin.ReleaseMode) // no route dump on stdout
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.ContextWithFallback = true
	e.Use(s.observe, s.recover, s.authn)
	for _, r := range s.routes {
		e.Handle(r.Method, r.Path, s.wrap(r))
	}
	e.NoRoute(func(c *gin.Context) { s.render(c, notFound("no route %s %s", c.Request.Method, c.Request.URL.Path)) })
	e.NoMethod(func(c *gin.Context) {
		s.render(c, problem(http.StatusMethodNotAllowed, ProblemMethod, "Method not allowed",
			fmt.Sprintf("%s is not allowed on %s", c.Request.Method, c.Request.URL.Path)))
	})
	return e
}

// methodLabel is the method as metrics and logs name it: one of the
// methods the API uses, or "other". The method is the client's to choose,
// before authentication: used as is, it would let anyone grow the metrics
// without bound and write what it likes into the logs.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions:
		return m
	}
	return "other"
}

// observe logs and measures every request (never its body, path or
// query: they hold record ids, CIDs and user ids).
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Header("X-Content-Type-Options", "nosniff")
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	method := methodLabel(c.Request.Method)
	status := strconv.Itoa(c.Writer.Status())
	d := time.Since(start)
	s.m.requests.WithLabelValues(route, method, status).Inc()
	s.m.latency.WithLabelValues(route, method, status).Observe(d.Seconds())
	attrs := []any{"method", method, "route", route, "status", c.Writer.Status(), "duration", d}
	if p, ok := c.Get("principal"); ok && p != nil {
		pr := p.(*Principal)
		attrs = append(attrs, "caller", pr.ID.String(), "role", pr.Role)
	}
	s.log.Debug("request", attrs...)
}

// recover turns a panic into a 500 problem, logging it without the
// request's content.
func (s *Server) recover(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("panic in handler", "route", c.FullPath(), "panic", fmt.Sprint(v))
			s.render(c, problem(http.StatusInternalServerError, ProblemInternal, "Internal error", ""))
			c.Abort()
		}
	}()
	c.Next()
}

// authn validates the TLS client certificate, if any, and limits the body.
// A certificate that does not validate is remembered: routes that need a
// caller answer 401, public routes ignore it.
func (s *Server) authn(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes)
	var chain []*x509.Certificate
	if c.Request.TLS != nil {
		chain = c.Request.TLS.PeerCertificates
	}
	if len(chain) > 0 {
		p, err := authenticate(s.d.Membership, chain, s.d.Now())
		if err != nil {
			c.Set("authError", err)
		} else {
			if p.Role == RoleAuditor && !s.isAuditor(c.Request.Context(), p.ID.ID()) {
				p.Role = "" // an organisation's CA claims it; the consortium did not approve it
			}
			c.Set("principal", p)
		}
	}
	c.Next()
}

func (s *Server) wrap(r Route) gin.HandlerFunc {
	return func(c *gin.Context) {
		var p *Principal
		if v, ok := c.Get("principal"); ok {
			p = v.(*Principal)
		}
		if _, bad := c.Get("authError"); bad && !r.Access.Public {
			c.Header("WWW-Authenticate", `Mutual-TLS realm="medshare"`)
			s.render(c, problem(http.StatusUnauthorized, ProblemUnauthenticated, "Unauthenticated", errNoMember.Error()))
			return
		}
		if status, why := r.Access.allows(p, s.cfg.MSPID); status != 0 {
			typ, title := ProblemForbidden, "Forbidden"
			if status == http.StatusUnauthorized {
				typ, title = ProblemUnauthenticated, "Unauthenticated"
				c.Header("WWW-Authenticate", `Mutual-TLS realm="medshare"`)
			}
			s.render(c, problem(status, typ, title, why))
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.RequestTimeout)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		if err := r.handle(c, p); err != nil {
			s.render(c, err)
		}
	}
}

// render writes err as a problem.
func (s *Server) render(c *gin.Context, err error) {
	p := toProblem(err)
	if p.Instance == "" {
		p.Instance = c.Request.URL.Path
	}
	if p.Status >= 500 {
		s.log.Warn("request failed", "route", c.FullPath(), "status", p.Status, "err", err)
	}
	c.Header("Content-Type", api.ProblemJSON)
	c.Header("Cache-Control", "no-store")
	c.Status(p.Status)
	_ = jsonEncode(c.Writer, p.Problem)
}

// TLSConfig returns the server TLS configuration: the gateway's
// certificate, TLS 1.3, and client certificates requested (not required:
// a caller without one gets a 401 problem, and certificates are validated
// against the consortium's CAs by the HTTP layer, which names the reason).
func TLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS13}
}

// HTTPServer is the HTTP server Serve runs, with the configuration's
// request limits: headers (size, time), the whole request's read time (a
// slow body is cut off), the time to write an answer (the request's work
// and 10 s more), idle connections.
func (s *Server) HTTPServer(cert tls.Certificate) *http.Server {
	return &http.Server{
		Handler:           s.Handler(),
		TLSConfig:         TLSConfig(cert),
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.RequestTimeout + 10*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    int(s.cfg.MaxHeaderBytes),
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
}

// Serve serves HTTPS on ln until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener, cert tls.Certificate) error {
	srv := s.HTTPServer(cert)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(tls.NewListener(ln, srv.TLSConfig)) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
