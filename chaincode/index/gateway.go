package index

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/arg"
	"github.com/medshare/medshare/chaincode/internal/kv"
	"github.com/medshare/medshare/chaincode/internal/page"
	"github.com/medshare/medshare/network/chaincode"
)

// The gateway registry (index version 2, an addition: the functions and
// state of version 1 are unchanged). Each organisation's administrator
// registers the URL of the organisation's REST gateway, where the
// organisation's records are accessed; clients resolve a record's owner
// gateway here. Only that organisation's administrators may set its entry,
// so neither another organisation nor one of its own client identities (a
// doctor, an operator) can redirect its users' proofs.

// EventGateway is emitted with the stored Gateway when an organisation
// registers its gateway.
const EventGateway = "GatewayRegistered"

// MaxGatewayURLLen bounds a registered URL.
const MaxGatewayURLLen = 255

// objGateway keys the registry: (mspID) → Gateway.
const objGateway = "gateway"

// Gateway is an organisation's registered REST gateway.
type Gateway struct {
	// Org is the organisation (MSP id); URL its gateway's base URL,
	// https://host[:port].
	Org string `json:"org"`
	URL string `json:"url"`
	// Version counts the organisation's registrations: 1 for the first,
	// one more for each change.
	Version uint64 `json:"version"`
	// SetBy is the administrator who registered it (its unique name); At
	// and TxID the transaction.
	SetBy string    `json:"setBy"`
	At    time.Time `json:"at"`
	TxID  string    `json:"txID"`
}

// checkGatewayURL accepts https://host[:port] and nothing else: no user
// information, path, query or fragment, a port from 1 to 65535.
func checkGatewayURL(s string) error {
	bad := ccerr.Invalid("url", "must be https://host[:port] (no path, query, fragment or user information), at most %d bytes", MaxGatewayURLLen)
	if len(s) == 0 || len(s) > MaxGatewayURLLen || strings.ContainsAny(s, " \t\r\n\\") {
		return bad
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Opaque != "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#") {
		return bad
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return bad
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return bad
	}
	if u.Hostname() == "" {
		return bad
	}
	return nil
}

// SetGateway registers org's gateway URL (https://host[:port]). Only an
// administrator of org itself may: the caller must have the admin role and
// belong to org.
func (x *Index) SetGateway(ctx chaincode.TransactionContext, org, gatewayURL string) (*Gateway, error) {
	_, who, err := x.cfg.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := who.RequireAdmin("register an organisation's gateway"); err != nil {
		return nil, err
	}
	if err := arg.Text("org", org, 1, 64); err != nil {
		return nil, err
	}
	if org != who.MSP {
		return nil, ccerr.Forbidden("caller", "only an administrator of %s may register its gateway; the caller is an administrator of %s", org, who.MSP)
	}
	if err := checkGatewayURL(gatewayURL); err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	var g Gateway
	if _, err := kv.Get(stub, objGateway, []string{org}, &g); err != nil {
		return nil, err
	}
	now, err := stub.GetTxTimestamp()
	if err != nil {
		return nil, err
	}
	g = Gateway{Org: org, URL: strings.TrimSuffix(gatewayURL, "/"), Version: g.Version + 1, SetBy: who.ID, At: now, TxID: stub.GetTxID()}
	if err := kv.Put(stub, objGateway, []string{org}, &g); err != nil {
		return nil, err
	}
	return &g, kv.Emit(stub, EventGateway, &g)
}

// GetGateway returns org's registered gateway. The registry holds nothing
// private: any channel member may read it.
func (x *Index) GetGateway(ctx chaincode.TransactionContext, org string) (*Gateway, error) {
	if _, err := x.cfg.Load(ctx); err != nil {
		return nil, err
	}
	if err := arg.Text("org", org, 1, 64); err != nil {
		return nil, err
	}
	var g Gateway
	ok, err := kv.Get(ctx.GetStub(), objGateway, []string{org}, &g)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ccerr.NotFound("org", "the gateway of %s is not registered", org)
	}
	return &g, nil
}

// ListGateways lists the registered gateways by organisation.
func (x *Index) ListGateways(ctx chaincode.TransactionContext, pageSize int32, bookmark string) (*page.Page[Gateway], error) {
	if _, err := x.cfg.Load(ctx); err != nil {
		return nil, err
	}
	return page.Composite(ctx.GetStub(), objGateway, nil, pageSize, bookmark, kv.Decode[Gateway])
}
