package gateway

import (
	"context"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/network/identity"
)

// Gateway discovery: where an organisation's gateway is. Each
// organisation's administrator registers its gateway's URL in the index on
// main (index.SetGateway, which refuses everyone else); the configuration's
// gateways map overrides the registry for the organisations it names (tests,
// or a gateway that reaches another organisation by another address).
// Record metadata and 421 answers name the owner's gateway from here, and
// GET /api/v1/gateways/{msp} gives clients the URL with the organisation's
// CA, which they pin for that gateway's TLS.

// How long a registry entry, and the absence of one, are reused.
const (
	gatewaysTTL     = 30 * time.Second
	gatewaysMissTTL = 5 * time.Second
)

type gatewayHit struct {
	g  *index.Gateway // nil: the organisation registered none
	at time.Time
}

// gatewayCache holds registry entries for a short time.
type gatewayCache struct {
	mu sync.Mutex
	m  map[string]gatewayHit
}

var mspRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// registered reads org's registry entry (nil, nil when it registered
// none), through the cache.
func (s *Server) registered(ctx context.Context, org string) (*index.Gateway, error) {
	c := &s.gateways
	c.mu.Lock()
	hit, ok := c.m[org]
	c.mu.Unlock()
	if ok {
		ttl := gatewaysTTL
		if hit.g == nil {
			ttl = gatewaysMissTTL
		}
		if time.Since(hit.at) < ttl {
			return hit.g, nil
		}
	}
	g, err := s.chain.Gateway(ctx, org)
	if err != nil && !isNotFound(err) {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]gatewayHit{}
	}
	c.m[org] = gatewayHit{g: g, at: time.Now()}
	c.mu.Unlock()
	return g, nil
}

// resolveGateway returns org's gateway: the configuration's override, or
// the registry's entry. An organisation outside the consortium, or one
// without a gateway, is a 404 problem.
func (s *Server) resolveGateway(ctx context.Context, org string) (*api.Gateway, error) {
	return s.resolve(ctx, org, true)
}

// resolve is resolveGateway; withCA false leaves the CA out (record
// metadata needs only the URL, and encoding the CA as PEM on every index
// query is a measurable share of the gateway's work).
func (s *Server) resolve(ctx context.Context, org string, withCA bool) (*api.Gateway, error) {
	msp, ok := s.d.Membership.MSP(org)
	if !ok || len(msp.Roots()) == 0 {
		return nil, notFound("%s is not an organisation of the consortium", org)
	}
	out := &api.Gateway{Org: org}
	if withCA {
		out.CA = string(identity.EncodeCertPEM(msp.Roots()[0]))
	}
	if u, ok := s.cfg.Gateways[org]; ok {
		out.URL, out.Source = u, api.SourceConfiguration
		return out, nil
	}
	g, err := s.registered(ctx, org)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, notFound("%s has registered no gateway (index SetGateway, by its administrator)", org)
	}
	out.URL, out.Source, out.Version, out.SetBy, out.TxID = g.URL, api.SourceRegistry, g.Version, g.SetBy, g.TxID
	return out, nil
}

// ownerGateway is org's gateway URL, "" when it is not known (record
// metadata and 421 answers carry it when they can).
func (s *Server) ownerGateway(ctx context.Context, org string) string {
	g, err := s.resolve(ctx, org, false)
	if err != nil {
		return ""
	}
	return g.URL
}

func (s *Server) getGateway(c *gin.Context, _ *Principal) error {
	org := c.Param("msp")
	if !mspRE.MatchString(org) {
		return badRequest("msp", "an MSP id is 1..64 characters of [A-Za-z0-9._-]")
	}
	g, err := s.resolveGateway(c.Request.Context(), org)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, g)
}
