package gateway_test

// Crafted bytes: bodies, headers, paths, queries, methods and timing a
// hostile client chooses. Every answer is a precise 4xx (never a 5xx),
// nothing is submitted or pinned, and the server's resources stay bounded.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/medshare/medshare/gateway"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/client"
	"github.com/medshare/medshare/gateway/internal/gwtest"
	"github.com/medshare/medshare/network/identity"
)

// TestCraftedBodies: duplicate keys, keys in another case, bodies that are
// not objects, nesting beyond the decoder's depth, media types that are not
// JSON — each a 400 or 415 naming the field where one is at fault.
func TestCraftedBodies(t *testing.T) {
	c := newConsortium(t)
	ctx := context.Background()
	owner := c.Client(gwtest.H1, c.Owner(gwtest.H1, "operator"))
	up := upload(t, c, patient)
	nurse := c.User(gwtest.H1, "nurse", map[string]string{"role": "nurse"})
	user := c.Client(gwtest.H1, nurse)
	pol := `"policy":{"low":"role = nurse"},"access":{"notBefore":"2026-01-01T00:00:00Z","notAfter":"2099-01-01T00:00:00Z"}`
	deep := `{"document":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `,` + pol + `}`
	cases := []struct {
		name   string
		cl     *client.Client
		method string
		path   string
		ct     string
		body   string
		status int
		typ    string
		field  string
	}{
		{"a key given twice", owner, "POST", "/api/v1/records", api.JSON, `{"document":{"a":1},"document":{"b":2},` + pol + `}`, 400, gateway.ProblemBadRequest, "document"},
		{"a nested key given twice", owner, "POST", "/api/v1/records", api.JSON, `{"document":{"a":1},"policy":{"low":"role = nurse","low":"role = doctor"},"access":{"notBefore":"2026-01-01T00:00:00Z","notAfter":"2099-01-01T00:00:00Z"}}`, 400, gateway.ProblemBadRequest, "policy.low"},
		{"a key in another case", owner, "POST", "/api/v1/records", api.JSON, `{"Document":{"a":1},` + pol + `}`, 400, gateway.ProblemBadRequest, "Document"},
		{"a nested key in another case", owner, "POST", "/api/v1/records", api.JSON, `{"document":{"a":1},"policy":{"LOW":"role = nurse"},"access":{"notBefore":"2026-01-01T00:00:00Z","notAfter":"2099-01-01T00:00:00Z"}}`, 400, gateway.ProblemBadRequest, "policy.LOW"},
		{"a window's key given twice", owner, "POST", "/api/v1/records", api.JSON, `{"document":{"a":1},"policy":{"low":"role = nurse"},"access":{"notBefore":"2026-01-01T00:00:00Z","notAfter":"2099-01-01T00:00:00Z","timeZone":"UTC","windows":[{"days":["mon"],"start":"08:00","end":"18:00","end":"24:00"}]}}`, 400, gateway.ProblemBadRequest, "access.windows[0].end"},
		{"null", owner, "POST", "/api/v1/records/" + up.RecordID + "/recall", api.JSON, `null`, 400, gateway.ProblemBadRequest, ""},
		{"an array", owner, "POST", "/api/v1/records", api.JSON, `[{"document":{}}]`, 400, gateway.ProblemBadRequest, ""},
		{"a string", owner, "POST", "/api/v1/records/" + up.RecordID + "/regrant", api.JSON, `"user"`, 400, gateway.ProblemBadRequest, ""},
		{"nesting beyond the decoder's depth", owner, "POST", "/api/v1/records", api.JSON, deep, 400, gateway.ProblemBadRequest, ""},
		{"a number beyond float64", owner, "POST", "/api/v1/records/" + up.RecordID + "/regrant", api.JSON, `{"user":"0123456789abcdef0123456789abcdef","levels":[1e999]}`, 400, gateway.ProblemBadRequest, "levels"},
		{"UTF-16", owner, "POST", "/api/v1/records", api.JSON, "\xff\xfe{\x00}\x00", 400, gateway.ProblemBadRequest, ""},
		{"a proof's level given twice", user, "POST", "/api/v1/records/" + up.RecordID + "/access", api.JSON, `{"level":"low","level":"high"}`, 400, gateway.ProblemBadRequest, "level"},
		{"a proof field in another case", user, "POST", "/api/v1/records/" + up.RecordID + "/access", api.JSON, `{"level":"low","proof":{"RecordID":"x"}}`, 400, gateway.ProblemBadRequest, "proof.RecordID"},
		{"a regrant naming a level twice", owner, "POST", "/api/v1/records/" + up.RecordID + "/regrant", api.JSON, `{"user":"0123456789abcdef0123456789abcdef","levels":["low","low"]}`, 422, gateway.ProblemInvalid, "levels[1]"},
		{"a regrant naming four levels", owner, "POST", "/api/v1/records/" + up.RecordID + "/regrant", api.JSON, `{"user":"0123456789abcdef0123456789abcdef","levels":["low","medium","high","low"]}`, 422, gateway.ProblemInvalid, "levels"},
		{"two media types", owner, "POST", "/api/v1/records", "application/json, text/plain", `{}`, 415, gateway.ProblemMediaType, ""},
		{"a form", owner, "POST", "/api/v1/records", "application/x-www-form-urlencoded", `document=x`, 415, gateway.ProblemMediaType, ""},
		{"multipart", owner, "POST", "/api/v1/records", "multipart/form-data; boundary=x", "--x\r\n\r\n{}\r\n--x--", 415, gateway.ProblemMediaType, ""},
		{"a look-alike media type", owner, "POST", "/api/v1/records", "application/jsonp", `{}`, 415, gateway.ProblemMediaType, ""},
		{"FHIR to a route that takes JSON only", user, "POST", "/api/v1/records/" + up.RecordID + "/access", api.FHIRJSON, `{}`, 415, gateway.ProblemMediaType, ""},
		// Parameters and case of the media type are JSON still: the body
		// decides (an unknown field here).
		{"JSON with a charset", owner, "POST", "/api/v1/records", "application/json; charset=utf-8", `{"x":1}`, 400, gateway.ProblemBadRequest, "x"},
		{"JSON in capitals", owner, "POST", "/api/v1/records", "APPLICATION/JSON", `{"x":1}`, 400, gateway.ProblemBadRequest, "x"},
	}
	before, pins := len(submitted(c)), len(c.Objects[gwtest.H1].Pinned())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cl.Do(ctx, tc.method, tc.path, tc.ct, []byte(tc.body), nil)
			wantProblem(t, tc.name, err, tc.status, tc.typ, tc.field)
		})
	}
	if calls := submitted(c)[before:]; len(calls) != 0 {
		t.Fatalf("crafted bodies submitted %d transactions: %v", len(calls), calls)
	}
	if n := len(c.Objects[gwtest.H1].Pinned()) - pins; n != 0 {
		t.Fatalf("crafted bodies pinned %d objects", n)
	}
}

// identityCID is a CIDv1 whose multihash is the identity: the "address"
// carries its own content.
func identityCID(content []byte) string {
	b := append([]byte{0x01, 0x55, 0x00, byte(len(content))}, content...)
	return "b" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// TestCraftedPathsAndQueries: traversal and odd bytes in ids, CID tricks,
// out-of-range query parameters, unknown methods — 400, 404 or 405
// problems, never a 5xx.
func TestCraftedPathsAndQueries(t *testing.T) {
	c := newConsortium(t)
	ctx := context.Background()
	nurse := c.Client(gwtest.H1, c.User(gwtest.H1, "nurse", map[string]string{"role": "nurse"}))
	cases := []struct {
		method, path string
		status       int
		typ, field   string
	}{
		{"GET", "/api/v1/records/..%2F..%2Fmetrics", 404, gateway.ProblemNotFound, ""},
		{"GET", "/api/v1/records/%2e%2e", 404, gateway.ProblemNotFound, ""},
		{"GET", "/api/v1/records/..%5C..%5Cmetrics", 400, gateway.ProblemBadRequest, "id"},
		{"GET", "/api/v1/records/a%00b", 400, gateway.ProblemBadRequest, "id"},
		{"GET", "/api/v1/records/a%0Ab", 400, gateway.ProblemBadRequest, "id"},
		{"GET", "/api/v1/records/r%C3%A9cord", 400, gateway.ProblemBadRequest, "id"},
		{"GET", "/api/v1/records/" + strings.Repeat("a", 129), 400, gateway.ProblemBadRequest, "id"},
		{"GET", "/api/v1/records/x/levels/..%2Fhigh", 404, gateway.ProblemNotFound, ""},
		{"GET", "/api/v1/records/x/levels/%20high", 400, gateway.ProblemBadRequest, "level"},
		{"GET", "/api/v1/records/x/levels/3", 400, gateway.ProblemBadRequest, "level"},
		{"GET", "/api/v1/objects/" + identityCID([]byte("<script>alert(1)</script> attacker-chosen bytes")), 404, gateway.ProblemNotFound, ""},
		{"GET", "/api/v1/objects/BAFKREIGH2AKISCAIDDQGHMAXBPB7QWXSEJN3WU4QZBA7V5ZCFFMPQOVOHQ", 400, gateway.ProblemBadRequest, "cid"},
		{"GET", "/api/v1/objects/QmO0000000000000000000000000000000000000000000", 400, gateway.ProblemBadRequest, "cid"},
		{"GET", "/api/v1/objects/Qm" + strings.Repeat("a", 45), 400, gateway.ProblemBadRequest, "cid"},
		{"GET", "/api/v1/objects/b" + strings.Repeat("a", 200), 400, gateway.ProblemBadRequest, "cid"},
		{"GET", "/api/v1/objects/..%2F..%2Fapi%2Fv0%2Fshutdown", 404, gateway.ProblemNotFound, ""},
		{"GET", "/api/v1/records?pageSize=0", 400, gateway.ProblemBadRequest, "pageSize"},
		{"GET", "/api/v1/records?pageSize=101", 400, gateway.ProblemBadRequest, "pageSize"},
		{"GET", "/api/v1/records?pageSize=-1", 400, gateway.ProblemBadRequest, "pageSize"},
		{"GET", "/api/v1/records?pageSize=1e2", 400, gateway.ProblemBadRequest, "pageSize"},
		{"GET", "/api/v1/records?pageSize=99999999999999999999", 400, gateway.ProblemBadRequest, "pageSize"},
		{"GET", "/api/v1/records?bookmark=" + strings.Repeat("A", 1025), 400, gateway.ProblemBadRequest, "bookmark"},
		{"GET", "/api/v1/records?bookmark=%00", 400, gateway.ProblemBadRequest, "bookmark"},
		{"GET", "/api/v1/records?owner=" + strings.Repeat("O", 65), 400, gateway.ProblemBadRequest, "owner"},
		{"GET", "/api/v1/records?type=Bundle%3Bdrop", 400, gateway.ProblemBadRequest, "type"},
		{"GET", "/api/v1/records?from=2026-13-01T00:00:00Z", 400, gateway.ProblemBadRequest, "from"},
		{"GET", "/api/v1/violations?bookmark=!!", 400, gateway.ProblemBadRequest, "bookmark"},
		{"FOO", "/api/v1/records", 405, gateway.ProblemMethod, ""},
		{"PATCH", "/api/v1/records/x", 405, gateway.ProblemMethod, ""},
		{"TRACE", "/api/v1/whoami", 405, gateway.ProblemMethod, ""},
	}
	before := len(submitted(c))
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path[:min(len(tc.path), 60)], func(t *testing.T) {
			cl := nurse
			if strings.HasPrefix(tc.path, "/api/v1/violations") {
				cl = c.Client(gwtest.H1, c.Owner(gwtest.H1, "operator"))
			}
			_, err := cl.Do(ctx, tc.method, tc.path, "", nil, nil)
			wantProblem(t, tc.path, err, tc.status, tc.typ, tc.field)
		})
	}
	if n := len(submitted(c)) - before; n != 0 {
		t.Fatalf("crafted requests submitted %d transactions", n)
	}
}

// rawClient is an HTTP client presenting m's certificate, without the
// gateway client's conveniences.
func rawClient(c *gwtest.Consortium, m *gwtest.Member) *http.Client {
	return &http.Client{Transport: client.Transport(m.ID), Timeout: 30 * time.Second}
}

// TestHeaderLimitsAndMetricsStayBounded: headers over the limit are
// refused (431) before any handler runs, and methods a client invents do
// not become metric series or log fields of their own.
func TestHeaderLimitsAndMetricsStayBounded(t *testing.T) {
	c := newConsortium(t)
	ctx := context.Background()
	nurse := c.User(gwtest.H1, "nurse", map[string]string{"role": "nurse"})
	hc := rawClient(c, nurse)
	do := func(method, path string, hdr map[string]string) int {
		req, _ := http.NewRequestWithContext(ctx, method, c.URL(gwtest.H1)+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" && resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("%s %s: no X-Content-Type-Options: nosniff", method, path)
		}
		return resp.StatusCode
	}
	big := strings.Repeat("x", 70<<10) // over the 64 KiB default
	if st := do("GET", "/api/v1/whoami", map[string]string{"X-Padding": big}); st != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("a 70 KiB header: %d, want 431", st)
	}
	if st := do("GET", "/api/v1/whoami?"+big, nil); st != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("a 70 KiB request line: %d, want 431", st)
	}
	if st := do("GET", "/api/v1/whoami", map[string]string{"X-Padding": strings.Repeat("x", 32<<10)}); st != http.StatusOK {
		t.Fatalf("a 32 KiB header: %d, want 200", st)
	}
	for i := range 50 {
		do(fmt.Sprintf("M%d\n", i)[:len(fmt.Sprintf("M%d", i))], "/api/v1/records", nil)
	}
	admin := c.Client(gwtest.H1, c.Admin(gwtest.H1))
	var metrics []byte
	if _, err := admin.Do(ctx, "GET", "/metrics", "", nil, &metrics); err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(metrics), "\n") {
		if strings.HasPrefix(line, "medshare_gateway_requests_total{") && strings.Contains(line, `method="M`) {
			t.Fatalf("an invented method became a series: %s", line)
		}
	}
	if !strings.Contains(string(metrics), `method="other"`) {
		t.Fatal("invented methods are not counted as other")
	}
	if strings.Contains(c.Log.String(), "method=M1") {
		t.Fatal("an invented method reached the logs")
	}
}

// TestSlowClientsAreCutOff: a body trickled byte by byte and headers that
// never end hold a connection no longer than readTimeout and
// readHeaderTimeout, and are never answered with a 5xx.
func TestSlowClientsAreCutOff(t *testing.T) {
	c := gwtest.New(t, gwtest.WithConfig(func(_ string, cfg *gateway.Config) {
		cfg.ReadTimeout, cfg.ReadHeaderTimeout = time.Second, 500*time.Millisecond
	}))
	op := c.Owner(gwtest.H1, "operator")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Servers[gwtest.H1].Serve(ctx, ln, c.GwMember[gwtest.H1].TLS) }()
	t.Cleanup(func() { cancel(); <-done })
	dial := func() *tls.Conn {
		conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{Certificates: []tls.Certificate{op.TLS}, RootCAs: c.Roots, ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		return conn
	}
	// trickle writes parts one by one, 200 ms apart, until the server
	// closes the connection or answers; it returns the answer's status (0
	// without one) and how long the connection lived.
	trickle := func(conn *tls.Conn, head string, parts []string) (int, time.Duration) {
		start := time.Now()
		answered := make(chan int, 1)
		go func() {
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				answered <- 0
				return
			}
			answered <- resp.StatusCode
		}()
		if _, err := conn.Write([]byte(head)); err != nil {
			return 0, time.Since(start)
		}
		for _, p := range parts {
			select {
			case st := <-answered:
				return st, time.Since(start)
			case <-time.After(200 * time.Millisecond):
			}
			if _, err := conn.Write([]byte(p)); err != nil {
				break
			}
		}
		select {
		case st := <-answered:
			return st, time.Since(start)
		case <-time.After(10 * time.Second):
			t.Fatal("the server kept a slow connection open")
			return 0, 0
		}
	}
	body := strings.Repeat("x", 100)
	slowBody := make([]string, len(body))
	for i := range slowBody {
		slowBody[i] = body[i : i+1]
	}
	conn := dial()
	st, lived := trickle(conn, "POST /api/v1/records HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n", slowBody)
	conn.Close()
	if st >= 500 || lived > 5*time.Second {
		t.Fatalf("a trickled body: status %d after %v", st, lived)
	}
	headers := make([]string, 100)
	for i := range headers {
		headers[i] = fmt.Sprintf("X-Slow-%d: 1\r\n", i)
	}
	conn = dial()
	st, lived = trickle(conn, "GET /api/v1/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\n", headers)
	conn.Close()
	if (st != 0 && st != http.StatusRequestTimeout) || lived > 4*time.Second {
		t.Fatalf("headers that never end: status %d after %v", st, lived)
	}
	// A prompt request on a fresh connection is still served.
	conn = dial()
	defer conn.Close()
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("a prompt request after the slow ones: %v %v", resp, err)
	}
}

var (
	_ = bytes.NewReader
	_ = json.Marshal
	_ = identity.RoleAdmin
)
