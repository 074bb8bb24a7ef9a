package gateway_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/medshare/medshare/gateway"
	"github.com/medshare/medshare/gateway/internal/gwtest"
)

func loadDoc(t testing.TB) *openapi3.T {
	t.Helper()
	l := openapi3.NewLoader()
	doc, err := l.LoadFromData(gateway.OpenAPI)
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI 3 document: %v", err)
	}
	return doc
}

// openapiPath turns a gin path (/records/:id) into an OpenAPI one
// (/records/{id}).
func openapiPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, ":") {
			parts[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

// match finds the documented path template of a concrete path, literal
// segments winning over parameters (/records/sealed over /records/{id}).
func match(doc *openapi3.T, path string) (string, map[string]string) {
	segs := strings.Split(path, "/")
	best, bestParams := "", map[string]string(nil)
	for tmpl := range doc.Paths.Map() {
		ts := strings.Split(tmpl, "/")
		if len(ts) != len(segs) {
			continue
		}
		params := map[string]string{}
		ok := true
		for i := range ts {
			if strings.HasPrefix(ts[i], "{") {
				params[strings.Trim(ts[i], "{}")] = segs[i]
			} else if ts[i] != segs[i] {
				ok = false
				break
			}
		}
		if ok && (best == "" || len(params) < len(bestParams)) {
			best, bestParams = tmpl, params
		}
	}
	return best, bestParams
}

// conform returns a check that validates every response against the
// document: its status must be documented for the operation, and its body
// must match the schema of its media type.
func conform(t *testing.T, doc *openapi3.T) func(*http.Request, *http.Response, []byte) {
	return func(req *http.Request, resp *http.Response, body []byte) {
		tmpl, params := match(doc, req.URL.Path)
		if tmpl == "" {
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s %s: undocumented path answered %d", req.Method, req.URL.Path, resp.StatusCode)
			}
			return
		}
		pi := doc.Paths.Find(tmpl)
		var op *openapi3.Operation
		if _, known := pi.Operations()[req.Method]; known || slices.Contains([]string{"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE", "CONNECT"}, req.Method) {
			op = pi.GetOperation(req.Method)
		}
		if op == nil {
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: undocumented method answered %d", req.Method, tmpl, resp.StatusCode)
			}
			return
		}
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params,
				Route: &routers.Route{Spec: doc, Path: tmpl, PathItem: pi, Method: req.Method, Operation: op}},
			Status: resp.StatusCode, Header: resp.Header, Body: io.NopCloser(bytes.NewReader(body)),
			Options: &openapi3filter.Options{IncludeResponseStatus: true},
		}
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			t.Errorf("%s %s → %d does not match the OpenAPI document: %v\nbody: %.300s", req.Method, tmpl, resp.StatusCode, err, body)
		}
	}
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc := loadDoc(t)
	c := gwtest.New(t)
	s := c.Servers[gwtest.H1] // serves the authority: every route
	routed := map[string]bool{}
	for _, r := range s.Routes() {
		key := r.Method + " " + openapiPath(r.Path)
		routed[key] = true
		pi := doc.Paths.Find(openapiPath(r.Path))
		if pi == nil || pi.GetOperation(r.Method) == nil {
			t.Errorf("route %s is not in the OpenAPI document", key)
			continue
		}
		if op := pi.GetOperation(r.Method); op.OperationID != r.OperationID {
			t.Errorf("route %s: operationId %q in the document, %q in the router", key, op.OperationID, r.OperationID)
		}
	}
	var documented []string
	for p, pi := range doc.Paths.Map() {
		for m := range pi.Operations() {
			if !routed[m+" "+p] {
				documented = append(documented, m+" "+p)
			}
		}
	}
	sort.Strings(documented)
	if len(documented) > 0 {
		t.Errorf("documented but not routed: %v", documented)
	}
}

func TestOpenAPIServedAndKeptInDocs(t *testing.T) {
	disk, err := os.ReadFile("../docs/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(disk, gateway.OpenAPI) {
		t.Fatal("docs/openapi.json differs from gateway/openapi.json: copy gateway/openapi.json to docs/")
	}
	c := gwtest.New(t)
	var got []byte
	if _, err := c.Client(gwtest.H2, nil).Do(context.Background(), "GET", "/api/v1/openapi.json", "", nil, &got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, gateway.OpenAPI) {
		t.Fatal("the served document is not the embedded one")
	}
}
