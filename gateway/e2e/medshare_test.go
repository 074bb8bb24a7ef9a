package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/gateway"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/client"
	"github.com/medshare/medshare/gateway/grade"
	"github.com/medshare/medshare/gateway/gwnet"
	"github.com/medshare/medshare/internal/kubo/kubotest"
	"github.com/medshare/medshare/internal/kvstore"
	"github.com/medshare/medshare/network/cryptogen"
)

// studyPolicy lets researchers read the clinical content and the
// quasi-identifiers (which a research package generalises), and only
// cardiologists the direct identifiers.
var studyPolicy = &api.RecordPolicy{
	Low:    "role = doctor or role = nurse or role = researcher",
	Medium: "role = doctor or role = nurse or role = researcher",
	High:   "role = doctor and trust >= 2 and specialty = cardiology",
}

// TestMedShareEndToEnd is issue 13's scenario on real processes (three
// nodes, three kubo daemons, three gateway processes over HTTPS with mutual
// TLS): a researcher of the research institute requests two Synthea
// patients of hospital 1 for research with the medshare CLI; the package
// holds, element by element, what the research rules promise; reading and
// copying add side-blocks; moving the package is forbidden, revokes the
// researcher at once (P-TL refuses its next access as revoked, and its next
// request); hospital 1 re-grants, access works again; hospital 1 recalls;
// the consortium's auditor reads the researcher's whole trail through
// hospital 2's gateway, as JSON and as FHIR R4 that validates, and the
// verification passes on every node; after a byte of a stored side-block is
// changed on hospital 2's node, verification names that block and that
// node.
func TestMedShareEndToEnd(t *testing.T) {
	if _, err := os.Stat(synthea); err != nil {
		t.Fatalf("the Synthea bundles are not at %s: %v", synthea, err)
	}
	kubotest.Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	t.Cleanup(cancel)
	sys, err := gwnet.Start(ctx, gwnet.Options{Bin: bin, Dir: t.TempDir(), LogLevel: "info",
		Users: map[int][]cryptogen.User{
			0: {{Name: "operator", Attributes: map[string]string{gateway.RoleAttribute: "owner"}}},
			2: {{Name: "researcher", Attributes: map[string]string{gateway.RoleAttribute: "user", "role": "researcher", "trust": "1"}},
				{Name: "auditor", Attributes: map[string]string{gateway.AuditorAttribute: "true"}}},
		},
		Auditors: []gwnet.UserRef{{Org: 2, Name: "auditor"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i := range gwnet.Orgs {
				t.Logf("gateway %d log (tail):\n%s", i, gwnet.Tail(sys.GatewayLog(i), 30))
				t.Logf("node %d log (tail):\n%s", i, gwnet.Tail(sys.Net.Logs(i), 15))
			}
		}
		sys.Stop()
	})
	e := &env{t: t, ctx: ctx, sys: sys}
	op := e.client(0, 0, "operator")
	now := time.Now().UTC()
	access := &api.Access{NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}

	// Hospital 1 stores two patients.
	docs := bundles(t)
	names := sortedKeys(docs)[:2]
	var recs []string
	byRecord := map[string][]byte{}
	for _, name := range names {
		up, err := op.Upload(ctx, &api.UploadRequest{Document: docs[name], Policy: studyPolicy, Access: access})
		if err != nil || !up.Indexed {
			t.Fatalf("upload %s: %+v %v", name, up, err)
		}
		recs = append(recs, up.RecordID)
		byRecord[up.RecordID] = docs[name]
	}

	// The researcher, with the CLI: enrol at the authority, request the two
	// records for research through its own gateway (the request goes to
	// hospital 1's), open, read, copy.
	crypto := sys.Net.Crypto
	cliAs := func(org int, user string, env ...string) func(args ...string) (string, error) {
		id := string(sys.Net.Identity(org, user))
		return func(args ...string) (string, error) {
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Env = append(append(os.Environ(), "MEDSHARE_ID="+id, "MEDSHARE_CRYPTO="+crypto), env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			return stdout.String() + stderr.String(), err
		}
	}
	must := func(cli func(...string) (string, error), args ...string) string {
		t.Helper()
		out, err := cli(args...)
		if err != nil {
			t.Fatalf("medshare %v: %v\n%s", args, err, out)
		}
		return out
	}
	store := filepath.Join(t.TempDir(), "packages")
	researcher := cliAs(2, "researcher", "MEDSHARE_PACKAGES="+store)
	home := sys.URLs[2]
	must(researcher, "enrol", "--gateway", sys.URLs[0])
	rid, err := e.sys.Identity(2, "researcher")
	if err != nil {
		t.Fatal(err)
	}
	user := txbuild.UserID(rid.Signer.ID())
	reqID := txbuild.RequestID(user, "study-1")
	out := must(researcher, append([]string{"request", "--gateway", home, "--purpose", "HRESCH", "--level", "medium", "--name", "study-1"}, recs...)...)
	if !strings.Contains(out, reqID) || !strings.Contains(out, "side-medium") {
		t.Fatalf("medshare request printed:\n%s", out)
	}
	must(researcher, "package", "open", "--gateway", home, reqID)
	read := must(researcher, "package", "read", "--gateway", home, reqID)
	copied := filepath.Join(t.TempDir(), "copy.json")
	must(researcher, "package", "copy", "--gateway", home, "--out", copied, reqID)
	cp, err := os.ReadFile(copied)
	if err != nil {
		t.Fatal(err)
	}

	// The package, element by element against the research rules.
	var bundle struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	var raw json.RawMessage
	if err := json.NewDecoder(strings.NewReader(read)).Decode(&raw); err != nil {
		t.Fatalf("package read printed no JSON: %v\n%.300s", err, read)
	}
	pkgDoc := []byte(raw)
	if !bytes.Equal(bytes.TrimSpace(pkgDoc), bytes.TrimSpace(cp)) {
		t.Fatal("package copy wrote another document than package read printed")
	}
	if err := json.Unmarshal(pkgDoc, &bundle); err != nil || len(bundle.Entry) != 2 {
		t.Fatalf("package read printed no bundle of two records (%v):\n%.300s", err, read)
	}
	for i, rec := range recs {
		checkResearchPackage(t, byRecord[rec], bundle.Entry[i].Resource)
	}

	// Side-blocks appeared: decrypted, read, copy.
	rq := e.requestor(2, "researcher")
	view := func(who *client.Client, id string) *api.RequestView {
		t.Helper()
		rc, err := who.Reading(ctx)
		if err != nil {
			t.Fatal(err)
		}
		v, err := rc.RequestView(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	v := view(rq.Home, reqID)
	if len(v.SideBlocks) != 3 || v.State.Status != provenance.StatusActive {
		t.Fatalf("after open, read, copy: %d side-blocks, status %s", len(v.SideBlocks), v.State.Status)
	}
	for i, want := range [][]string{{"decrypted"}, {"read"}, {"copy"}} {
		var got []string
		for _, a := range v.SideBlocks[i].Tx.Actions {
			got = append(got, a.Action)
			if a.Status != provenance.StatusPermitted {
				t.Errorf("side-block %d: %s is %s", i+1, a.Action, a.Status)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("side-block %d reports %v, want %v", i+1, got, want)
		}
	}

	// Bad reports and requests over the real network: each refused with
	// the field at fault, and nothing recorded.
	held, err := client.PackageStore{Dir: store}.Load(reqID)
	if err != nil {
		t.Fatal(err)
	}
	report := func(seq uint64, id string, actions ...string) *api.ReportRequest {
		t.Helper()
		priv, err := x509.ParseECPrivateKey(held.ReportKey)
		if err != nil {
			t.Fatal(err)
		}
		key, _ := txbuild.KeyOf(priv)
		var hash [32]byte
		raw, _ := hex.DecodeString(held.Package.PackageHash)
		copy(hash[:], raw)
		now := time.Now().UTC()
		sr := &api.SignedReport{RequestID: id, Seq: seq}
		var acts []txbuild.Action
		for _, a := range actions {
			acts = append(acts, txbuild.Action{Name: a, At: now})
			sr.Actions = append(sr.Actions, api.ReportedAction{Action: a, At: now})
		}
		in, err := txbuild.SignReport(key, held.Package.Channel, reqID, hash, seq, acts)
		if err != nil {
			t.Fatal(err)
		}
		sr.Signature = in.Signature
		return &api.ReportRequest{Channel: held.Package.Channel, PackageHash: held.Package.PackageHash, Report: sr}
	}
	wantProblem := func(err error, status int, field, reason string) {
		t.Helper()
		var pe *client.ProblemError
		if !errors.As(err, &pe) || pe.Status != status || pe.Field != field || pe.Reason != reason {
			t.Fatalf("got %v (field %q, reason %q), want %d field %q reason %q", err, fieldOf(pe), reasonOf(pe), status, field, reason)
		}
	}
	_, err = rq.Home.Report(ctx, report(1, reqID, "read")) // a genuine report, replayed
	wantProblem(err, 422, "report.seq", "")
	forged := report(held.NextSeq, reqID, "read")
	forged.Report.Signature = report(held.NextSeq+1, reqID, "read").Report.Signature
	_, err = rq.Home.Report(ctx, forged)
	wantProblem(err, 422, "report.signature", "")
	_, err = rq.Home.Report(ctx, report(held.NextSeq, txbuild.RequestID(user, "no-such-request"), "read"))
	wantProblem(err, 404, "report.requestID", "")
	badReq, _, err := client.NewPackageRequest(rq.User, client.RequestSpec{Name: "forged", RecordIDs: recs, Purpose: "HRESCH", Level: "medium"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	badReq.Request.RequestSignature[10] ^= 1
	ownerGW := e.client(0, 2, "researcher")
	_, err = ownerGW.RequestPackage(ctx, badReq)
	wantProblem(err, 422, "request.requestSignature", "")
	badReq, _, _ = client.NewPackageRequest(rq.User, client.RequestSpec{Name: "marketing", RecordIDs: recs, Purpose: "research", Level: "medium"}, time.Now())
	_, err = ownerGW.RequestPackage(ctx, badReq)
	wantProblem(err, 422, "request.purpose", gateway.ReasonUnknownPurpose)
	if v2 := view(rq.Home, reqID); len(v2.SideBlocks) != 3 || v2.State.LastSeq != 3 {
		t.Fatalf("refused reports changed the request: %d side-blocks, last seq %d", len(v2.SideBlocks), v2.State.LastSeq)
	}

	// A forbidden action: refused by the client without --yes; done with
	// it, reported, a violation, and the researcher revoked at once.
	moved := filepath.Join(t.TempDir(), "moved.pkg")
	if out, err := researcher("package", "move", "--gateway", home, "--to", moved, reqID); err == nil || !strings.Contains(out, "forbidden") {
		t.Fatalf("move without --yes: %v\n%s", err, out)
	}
	out = must(researcher, "package", "move", "--gateway", home, "--to", moved, "--yes", reqID)
	if !strings.Contains(out, "VIOLATION move") {
		t.Fatalf("package move printed:\n%s", out)
	}
	reader := e.reader(2, "researcher")
	medium := client.OpenOptions{Levels: []policy.Level{policy.Medium}}
	res, err := reader.Open(ctx, recs[0], medium)
	if err != nil || res.Levels[0].Status != client.Refused || res.Levels[0].Reason != ptl.ReasonRevoked {
		t.Fatalf("the researcher's next access after the violation: %+v %v", res, err)
	}
	if out, err := researcher(append([]string{"request", "--gateway", home, "--name", "study-2"}, recs...)...); err == nil || !strings.Contains(out, "revoked") {
		t.Fatalf("a request while revoked: %v\n%s", err, out)
	}
	owner := cliAs(0, "operator")
	if out := must(owner, "violations", "--gateway", sys.URLs[0]); !strings.Contains(out, ptl.ReasonForbiddenAction) {
		t.Fatalf("the owner does not see the violation:\n%s", out)
	}

	// The owner re-grants: access works again; then it recalls.
	must(owner, "requests", "regrant", "--gateway", sys.URLs[0], "--reason", "the researcher explained", reqID)
	res, err = reader.Open(ctx, recs[0], medium)
	if err != nil || res.Levels[0].Status != client.Opened {
		t.Fatalf("access after the re-grant: %+v %v", res, err)
	}
	must(researcher, append([]string{"request", "--gateway", home, "--name", "study-3"}, recs...)...)
	must(owner, "requests", "recall", "--gateway", sys.URLs[0], "--reason", "study closed", reqID)
	res, err = reader.Open(ctx, recs[0], medium)
	if err != nil || res.Levels[0].Status != client.Refused || res.Levels[0].Reason != ptl.ReasonRevoked {
		t.Fatalf("access after the recall: %+v %v", res, err)
	}

	// The auditor, through hospital 2's gateway: the whole trail in order.
	auditor := cliAs(2, "auditor")
	out = must(auditor, "audit", "trail", "--gateway", sys.URLs[1], "--user", user)
	var tr api.Trail
	if err := json.NewDecoder(strings.NewReader(out)).Decode(&tr); err != nil {
		t.Fatalf("audit trail printed no JSON trail: %v\n%.500s", err, out)
	}
	var kinds []string
	lastBlock := map[string]uint64{}
	for i, it := range tr.Items {
		kinds = append(kinds, it.Kind)
		if it.TxID == "" || it.Block == 0 || it.Node == "" {
			t.Errorf("entry %d has no transaction, block or node: %+v", i, it)
		}
		if it.Block < lastBlock[it.Channel] {
			t.Errorf("entry %d (%s) in block %d after block %d of %s", i, it.Kind, it.Block, lastBlock[it.Channel], it.Channel)
		}
		lastBlock[it.Channel] = it.Block
		if i > 0 && it.Time.Before(tr.Items[i-1].Time) {
			t.Errorf("entry %d is older than entry %d", i, i-1)
		}
	}
	want := []string{"request", "delivery", "report", "report", "report", "report", "violation", "revocation", "access", "violation",
		"regrant", "access", "request", "delivery", "recall", "access", "violation"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("the auditor's trail\n got %v\nwant %v", kinds, want)
	}
	refused := tr.Items[8]
	if refused.Reason != ptl.ReasonRevoked || refused.Outcome != "refused" || refused.Channel != "side-medium" {
		t.Fatalf("the refused access: %+v", refused)
	}
	fhir := must(auditor, "audit", "trail", "--gateway", sys.URLs[1], "--user", user, "--format", "fhir")
	validateFHIR(t, []byte(fhir))
	if n := strings.Count(fhir, `"resourceType":"AuditEvent"`); n < len(want) {
		t.Fatalf("%d AuditEvents for %d steps", n, len(want))
	}
	if !strings.Contains(fhir, `"resourceType":"Provenance"`) {
		t.Fatal("no Provenance for the packages")
	}
	out = must(auditor, "audit", "verify", "--gateway", sys.URLs[1], "--user", user)
	var ver api.Verification
	if err := json.NewDecoder(strings.NewReader(out)).Decode(&ver); err != nil || !ver.OK || len(ver.Nodes) != 9 || ver.Blocks < 8 {
		t.Fatalf("verification: %v\n%s", err, out)
	}

	// A byte of a stored side-block changed on hospital 2's node: stop it,
	// edit its pebble store, start it again.
	const tampered = 1
	sb := v.SideBlocks[1] // the report of "read"
	if err := sys.Net.Terminate(tampered); err != nil {
		t.Fatal(err)
	}
	tamperSideBlock(t, sys.Net.LedgerDir(tampered, "side-medium"), reqID, sb.Index)
	if err := sys.Net.Restart(ctx, tampered); err != nil {
		t.Fatal(err)
	}
	node := sys.Net.Nodes[tampered].ID
	for _, via := range []int{2, 1} { // the research institute's gateway, and hospital 2's (whose node it is)
		out, err = auditor("audit", "verify", "--gateway", sys.URLs[via], "--user", user)
		if err == nil {
			t.Fatalf("verification through gateway %d passed after tampering:\n%s", via, out)
		}
		var bad api.Verification
		if err := json.NewDecoder(strings.NewReader(out)).Decode(&bad); err != nil {
			t.Fatalf("verify printed no verification: %v\n%s", err, out)
		}
		named := false
		for _, p := range bad.Problems {
			t.Logf("through gateway %d: %s %s %s (ledger block %d, tx %s): %s: %s", via, p.Node, p.Channel, p.Block, p.LedgerBlock, p.TxID, p.Link, p.Detail)
			if p.Node != node {
				t.Errorf("a problem names node %s, which was not tampered with: %+v", p.Node, p)
				continue
			}
			if strings.Contains(p.Block, sb.ID) && p.TxID == sb.Tx.TxID && p.Channel == "side-medium" {
				named = true
			}
		}
		if !named || bad.OK {
			t.Fatalf("verification through gateway %d does not name side-block %s (tx %s) on %s: %+v", via, sb.ID, sb.Tx.TxID, node, bad.Problems)
		}
		if !strings.Contains(out, "node "+node) {
			t.Fatalf("the CLI's error does not name the node:\n%s", out)
		}
	}
}

func fieldOf(pe *client.ProblemError) string {
	if pe == nil {
		return ""
	}
	return pe.Field
}

func reasonOf(pe *client.ProblemError) string {
	if pe == nil {
		return ""
	}
	return pe.Reason
}

func sortedKeys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// requestor is a user's MeDShare client, home at its own organisation.
func (e *env) requestor(org int, user string) *client.Requestor {
	r := e.reader(org, user)
	return &client.Requestor{Home: r.Home, User: r.User}
}

// validateFHIR checks doc with google/fhir's validating R4 unmarshaller.
func validateFHIR(t *testing.T, doc []byte) {
	t.Helper()
	lib, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lib.Unmarshal(doc); err != nil {
		t.Fatalf("not valid FHIR R4: %v", err)
	}
}

// tamperSideBlock changes one digit of the first action's time in a stored
// side-block of a stopped node's channel: valid JSON, a valid time, another
// block.
func tamperSideBlock(t *testing.T, dir, requestID string, index uint64) {
	t.Helper()
	db, err := kvstore.Open(dir, slog.New(slog.DiscardHandler), false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	prefix := []byte("s" + provenance.Name + "\x00")
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: kvstore.PrefixUpperBound(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("\x00sb\x00%s\x00%020d\x00", requestID, index)
	var key, val []byte
	for it.First(); it.Valid(); it.Next() {
		if bytes.HasSuffix(it.Key(), []byte(want)) {
			key, val = bytes.Clone(it.Key()), bytes.Clone(it.Value())
		}
	}
	it.Close()
	if key == nil {
		t.Fatalf("side-block %d of %s not found in %s", index, requestID, dir)
	}
	at := regexp.MustCompile(`"at":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d(\d)`).FindSubmatchIndex(val)
	if at == nil {
		t.Fatalf("no action time in the stored side-block: %s", val)
	}
	d := val[at[2]]
	val[at[2]] = '0' + (d-'0'+1)%10
	if err := db.Set(key, val, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

var (
	pseudonymRE = regexp.MustCompile(`^(urn:uuid:|#|[A-Z][A-Za-z]+/)?[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	yearRE      = regexp.MustCompile(`^[0-9]{4}$`)
)

// checkResearchPackage checks a research package's record, element by
// element under the grading rules, against its original: no element
// graded high but pseudonymised ids and references and data-absent
// markers; no value of a high element of the original; the original's
// ids, names, identifiers, telecoms and street lines nowhere; birth dates
// reduced to the original year; postal codes truncated to the original's
// three digits; no city, district or street; every reference resolving
// inside the record; valid FHIR R4.
func checkResearchPackage(t *testing.T, orig, out []byte) {
	t.Helper()
	validateFHIR(t, out)
	g, err := grade.New(grade.DefaultRules())
	if err != nil {
		t.Fatal(err)
	}
	walk := func(doc []byte) []grade.Element {
		var els []grade.Element
		if err := g.Walk(doc, func(e grade.Element) error { els = append(els, e); return nil }); err != nil {
			t.Fatal(err)
		}
		return els
	}
	str := func(e grade.Element) (string, bool) {
		var s string
		return s, json.Unmarshal(e.Value, &s) == nil
	}
	origEls, outEls := walk(orig), walk(out)
	lower, birth, zips := map[string]bool{}, map[string]string{}, map[string]bool{}
	var secrets []string
	for _, e := range origEls {
		s, ok := str(e)
		if !ok {
			continue
		}
		if e.Level <= policy.Medium {
			lower[s] = true
		}
		switch {
		case e.RulePath == "Patient.birthDate":
			birth[e.Path] = s[:4]
		case strings.HasSuffix(e.RulePath, "address.postalCode"):
			if len(s) >= 3 {
				zips[s[:3]] = true
			}
		case strings.HasSuffix(e.RulePath, ".id") && strings.Count(e.RulePath, ".") == 1 && strings.ContainsAny(s, "0123456789"),
			strings.Contains(e.RulePath, ".name.given"), strings.Contains(e.RulePath, ".name.family"),
			strings.HasSuffix(e.RulePath, "identifier.value"), strings.HasSuffix(e.RulePath, "telecom.value"),
			strings.HasSuffix(e.RulePath, "address.line"):
			if len(s) >= 4 {
				secrets = append(secrets, s)
			}
		}
	}
	if len(secrets) < 50 || len(birth) != 1 || len(zips) == 0 {
		t.Fatalf("the original holds %d identifying strings, %d birth dates, %d postal codes", len(secrets), len(birth), len(zips))
	}
	outStrings := map[string]bool{}
	births, postal := 0, 0
	for _, e := range outEls {
		s, isStr := str(e)
		if isStr {
			outStrings[s] = true
		}
		if e.Level == policy.High {
			switch {
			case isStr && (e.RulePath == "Bundle.entry.fullUrl" || strings.HasSuffix(e.RulePath, ".reference") ||
				strings.HasSuffix(e.RulePath, ".id") && strings.Count(e.RulePath, ".") == 1) && pseudonymRE.MatchString(s):
			case isStr && strings.HasSuffix(e.RulePath, "extension.url") && s == grade.DataAbsentReasonURL,
				isStr && strings.HasSuffix(e.RulePath, "extension.valueCode") && s == grade.DataAbsentMasked:
			default:
				t.Errorf("high element %s (%s) = %s in the package", e.Path, e.RulePath, e.Value)
			}
		}
		switch {
		case e.RulePath == "Patient.birthDate":
			births++
			if !yearRE.MatchString(s) || birth[e.Path] != s {
				t.Errorf("birth date %s = %q; the original's year is %q", e.Path, s, birth[e.Path])
			}
		case strings.HasSuffix(e.RulePath, "ddress.postalCode"):
			postal++
			if len(s) != 3 || !zips[s] && s != "000" {
				t.Errorf("postal code %s = %q: not three digits of an original postal code", e.Path, s)
			}
		case strings.HasSuffix(e.RulePath, "ddress.city"), strings.HasSuffix(e.RulePath, "ddress.line"), strings.HasSuffix(e.RulePath, "ddress.district"):
			t.Errorf("%s = %s in the package", e.Path, e.Value)
		}
	}
	if births != 1 || postal == 0 {
		t.Errorf("the package holds %d birth dates and %d postal codes: the medium level is missing", births, postal)
	}
	for _, e := range origEls {
		if s, ok := str(e); ok && e.Level == policy.High && !lower[s] && outStrings[s] {
			t.Errorf("the value of high element %s is in the package", e.Path)
		}
	}
	for _, s := range secrets {
		if bytes.Contains(out, []byte(s)) {
			t.Errorf("original string %q is in the package", s)
		}
	}
	// References resolve inside the record.
	var b struct {
		Entry []struct {
			FullURL string `json:"fullUrl"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(out, &b); err != nil {
		t.Fatal(err)
	}
	urls := map[string]bool{}
	for _, en := range b.Entry {
		urls[en.FullURL] = true
	}
	n := 0
	for _, e := range outEls {
		if s, ok := str(e); ok && strings.HasSuffix(e.RulePath, ".reference") && strings.HasPrefix(s, "urn:uuid:") {
			n++
			if !urls[s] {
				t.Errorf("reference %s at %s does not resolve in the package", s, e.Path)
			}
		}
	}
	if n < 50 {
		t.Errorf("only %d references in the package", n)
	}
}
