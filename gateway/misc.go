package gateway

import (
	"context"
	_ "embed"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/gateway/api"
)

// OpenAPI is the gateway's OpenAPI 3 document, served at
// /api/v1/openapi.json; docs/openapi.json is a copy a test keeps equal.
//
//go:embed openapi.json
var OpenAPI []byte

func jsonEncode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// reply renders v as JSON with status.
func reply(c *gin.Context, status int, v any) error {
	c.Header("Content-Type", api.JSON)
	c.Header("Cache-Control", "no-store")
	c.Status(status)
	return jsonEncode(c.Writer, v)
}

func (s *Server) health(c *gin.Context, _ *Principal) error {
	return reply(c, http.StatusOK, api.Health{Status: "ok"})
}

// ready checks the node, kubo, the keys the gateway's routes need and the
// replication follower's lag. Why a check fails is shown to callers with a
// consortium certificate only: it names internal addresses.
func (s *Server) ready(c *gin.Context, p *Principal) error {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	checks := map[string]string{}
	ok := true
	set := func(name string, err error) {
		if err != nil {
			checks[name] = "failing"
			if p != nil {
				checks[name] = err.Error()
			}
			ok = false
			return
		}
		checks[name] = "ok"
	}
	_, err := s.chain.IndexEntry(ctx, "readiness-probe")
	if err != nil && isNotFound(err) {
		err = nil // the index answered
	}
	set("ledger", err)
	if s.d.Objects != nil {
		set("ipfs", s.d.Objects.Ready(ctx))
	} else {
		set("ipfs", errNotConfigured("IPFS"))
	}
	if s.d.Keys != nil {
		_, err := s.d.Keys.Params(ctx)
		set("keys", err)
	} else if s.d.Authority == nil {
		set("keys", errNotConfigured("the attribute authority"))
	}
	if s.d.Authority != nil {
		checks["authority"] = "ok"
	}
	var rh *api.ReplicationHealth
	if s.d.Replication != nil {
		st := s.d.Replication.Status()
		set("replication", st.Check(s.cfg.MaxReplicationLag))
		rh = &api.ReplicationHealth{Pending: st.Pending, Retrying: st.Retrying, LagSeconds: st.OldestPending.Seconds(),
			MaxLagSeconds: s.cfg.MaxReplicationLag.Seconds(), Streams: len(st.Streams)}
		for _, str := range st.Streams {
			if str.Connected {
				rh.StreamsUp++
			}
		}
	}
	h := api.Health{Status: "ready", Checks: checks, Replication: rh}
	status := http.StatusOK
	if !ok {
		h.Status, status = "not ready", http.StatusServiceUnavailable
	}
	return reply(c, status, h)
}

func (s *Server) metricsRoute(c *gin.Context, _ *Principal) error {
	s.metricsHandler().ServeHTTP(c.Writer, c.Request)
	return nil
}

func (s *Server) openapi(c *gin.Context, _ *Principal) error {
	c.Header("Content-Type", api.JSON)
	c.Status(http.StatusOK)
	_, err := c.Writer.Write(OpenAPI)
	return err
}

func (s *Server) whoami(c *gin.Context, p *Principal) error {
	return reply(c, http.StatusOK, p.View(s.cfg.MSPID, txbuild.RecordID(s.d.Signer.ID(), "")))
}

type notConfigured string

func (n notConfigured) Error() string { return string(n) + " is not configured" }

func errNotConfigured(what string) error { return notConfigured(what) }
