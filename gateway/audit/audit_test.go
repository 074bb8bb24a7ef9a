package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var (
	libOnce sync.Once
	lib     *jsonformat.Unmarshaller
	libErr  error
)

// validateR4 checks doc with google/fhir's validating R4 unmarshaller.
func validateR4(t testing.TB, doc []byte) {
	t.Helper()
	libOnce.Do(func() { lib, libErr = jsonformat.NewUnmarshaller("UTC", fhirversion.R4) })
	if libErr != nil {
		t.Fatal(libErr)
	}
	if _, err := lib.Unmarshal(doc); err != nil {
		t.Fatalf("not valid FHIR R4: %v\n%s", err, doc)
	}
}

var (
	t0        = time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC)
	owner     = Party{ID: "x509::CN=gateway,OU=client,O=Hospital1::CN=ca.hospital1,O=Hospital1", MSP: "Hospital1MSP", Name: "gateway", Role: RoleOwner}
	gateway1  = Party{ID: "x509::CN=gateway,OU=client,O=Hospital1::CN=ca.hospital1,O=Hospital1", MSP: "Hospital1MSP", Name: "gateway", Role: RoleGateway}
	gateway3  = Party{ID: "x509::CN=gateway,OU=client,O=Research::CN=ca.research,O=Research", MSP: "ResearchMSP", Name: "gateway", Role: RoleGateway}
	doctor    = Party{KeyHash: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", MSP: "Hospital2MSP", Role: RoleDataUser}
	requestor = Party{KeyHash: "a1b2c3d4e5f60718293a4b5c6d7e8f90", MSP: "ResearchMSP", Role: RoleRequestor}
	node1     = Party{ID: "x509::CN=node0.hospital1,OU=peer,O=Hospital1::CN=ca.hospital1,O=Hospital1", MSP: "Hospital1MSP", Role: RoleNode}
)

// trail is the scenario, step by step.
func trail() []Entry {
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	base := func(k Kind, tx string, block uint64, m int, ch string) Entry {
		return Entry{Kind: k, TxID: tx, Block: block, Time: at(m), Channel: ch, Node: "node0.hospital1"}
	}
	var es []Entry
	e := base(KindUpload, "tx-sto-1", 4, 0, "side-medium")
	e.Actor, e.Submitter, e.RecordIDs, e.Version, e.Level = owner, gateway1, []string{"rec-1"}, 1, "medium"
	e.Signature, e.SignedBy = []byte{0x30, 0x45, 0x02, 0x21}, gateway1
	es = append(es, e)
	e = base(KindUpload, "tx-sto-2", 9, 5, "side-medium")
	e.Actor, e.Submitter, e.RecordIDs, e.Version, e.Level = owner, gateway1, []string{"rec-1"}, 2, "medium"
	es = append(es, e)
	e = base(KindAccess, "tx-acc-1", 11, 10, "side-medium")
	e.Actor, e.Submitter, e.RecordIDs, e.Version, e.Level, e.AccessID = doctor, gateway1, []string{"rec-1"}, 2, "medium", "acc-7f"
	es = append(es, e)
	e = base(KindAccess, "tx-acc-2", 12, 11, "side-high")
	e.Actor, e.Submitter, e.RecordIDs, e.Level = doctor, gateway1, []string{"rec-1"}, "high"
	e.Outcome, e.Reason, e.Detail = Refused, "policy_not_met", "the disclosed attributes do not satisfy the policy"
	es = append(es, e)
	e = base(KindViolation, "tx-acc-2", 12, 11, "side-high")
	e.Actor, e.Submitter, e.RecordIDs, e.Reason, e.Outcome = doctor, gateway1, []string{"rec-1"}, "policy_not_met", Refused
	es = append(es, e)
	e = base(KindRequest, "tx-req-1", 20, 20, "side-medium")
	e.Actor, e.Submitter, e.Subject = owner, gateway1, requestor
	e.RecordIDs, e.RequestID, e.PackageID, e.PackageHash = []string{"rec-1", "rec-2"}, "req-1", "pkg-1", strings.Repeat("ab", 32)
	e.Purpose, e.Level = "HRESCH", "medium"
	e.Received, e.Processed, e.Sent = at(19), at(19).Add(3*time.Second), at(19).Add(4*time.Second)
	e.Signature, e.SignedBy = []byte{0x30, 0x44, 0x02, 0x20}, gateway1
	es = append(es, e)
	e = base(KindDelivery, "gw-delivery-1", 0, 21, "side-medium")
	e.Actor, e.Submitter, e.Subject = owner, gateway1, requestor
	e.RequestID, e.PackageID, e.PackageHash, e.Purpose = "req-1", "pkg-1", strings.Repeat("ab", 32), "HRESCH"
	es = append(es, e)
	e = base(KindReport, "tx-rep-1", 22, 22, "side-medium")
	e.Actor, e.Submitter = requestor, gateway3
	e.RequestID, e.PackageID, e.PackageHash, e.Purpose, e.Seq, e.SideBlock = "req-1", "pkg-1", strings.Repeat("ab", 32), "HRESCH", 1, "dc388ef46bdab5b6-000001"
	e.Actions = []Action{{"decrypted", at(21), "permitted"}, {"read", at(21).Add(time.Second), "permitted"}, {"copy", at(21).Add(2 * time.Second), "permitted"}}
	es = append(es, e)
	e = base(KindReport, "tx-rep-2", 23, 23, "side-medium")
	e.Actor, e.Submitter = requestor, gateway3
	e.RequestID, e.PackageID, e.Purpose, e.Seq, e.SideBlock = "req-1", "pkg-1", "HRESCH", 2, "dc388ef46bdab5b6-000002"
	e.Actions = []Action{{"delete", at(22), "violation"}}
	es = append(es, e)
	e = base(KindViolation, "tx-rep-2", 23, 23, "side-medium")
	e.Actor, e.Submitter, e.RecordIDs, e.RequestID, e.PackageID = requestor, gateway3, []string{"rec-1", "rec-2"}, "req-1", "pkg-1"
	e.Reason, e.Detail, e.Outcome, e.Purpose = "forbidden_action", "delete is not allowed by the usage contract", Failed, "HRESCH"
	es = append(es, e)
	e = base(KindRevocation, "tx-rep-2", 23, 23, "side-medium")
	e.Actor, e.Subject, e.RecordIDs, e.RequestID, e.PackageID, e.Scope = node1, requestor, []string{"rec-1", "rec-2"}, "req-1", "pkg-1", "record"
	es = append(es, e)
	e = base(KindAccess, "tx-acc-3", 24, 24, "side-medium")
	e.Actor, e.Submitter, e.RecordIDs, e.Outcome, e.Reason = requestor, gateway1, []string{"rec-1"}, Refused, "revoked"
	es = append(es, e)
	e = base(KindRegrant, "tx-regrant-1", 25, 30, "side-medium")
	e.Actor, e.Subject, e.RecordIDs, e.RequestID, e.PackageID, e.Detail = owner, requestor, []string{"rec-1", "rec-2"}, "req-1", "pkg-1", "reviewed"
	es = append(es, e)
	e = base(KindAccess, "tx-acc-4", 26, 31, "side-medium")
	e.Actor, e.Submitter, e.RecordIDs, e.Version, e.AccessID = requestor, gateway1, []string{"rec-1"}, 2, "acc-80"
	es = append(es, e)
	e = base(KindRecall, "tx-recall-1", 27, 40, "side-medium")
	e.Actor, e.Subject, e.RecordIDs, e.RequestID, e.PackageID = owner, requestor, []string{"rec-1", "rec-2"}, "req-1", "pkg-1"
	es = append(es, e)
	return es
}

func newConverter(t testing.TB) *Converter {
	t.Helper()
	c, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type jsonObj = map[string]any

func decode(t testing.TB, doc []byte) jsonObj {
	t.Helper()
	var m jsonObj
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func codingOf(v any) (string, string) {
	m, _ := v.(jsonObj)
	s, _ := m["system"].(string)
	c, _ := m["code"].(string)
	return s, c
}

// agentTypes returns "system|code" of each agent's type and its requestor flag.
func agentTypes(ev jsonObj) map[string]bool {
	out := map[string]bool{}
	for _, a := range ev["agent"].([]any) {
		a := a.(jsonObj)
		s, c := codingOf(a["type"].(jsonObj)["coding"].([]any)[0])
		out[s+"|"+c] = a["requestor"].(bool)
		if a["who"] == nil {
			panic("agent without who")
		}
	}
	return out
}

// TestAuditEventsFollowBALP converts the scenario's trail and checks every
// AuditEvent against the FHIR R4 definitions (google/fhir's validating
// unmarshaller) and against the BALP pattern of its kind.
func TestAuditEventsFollowBALP(t *testing.T) {
	c := newConverter(t)
	const dcm, rest, life = "http://dicom.nema.org/resources/ontology/DCM", "http://hl7.org/fhir/restful-interaction", "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle"
	want := map[Kind]struct {
		typ, action string
		subtype     []string
		agents      map[string]bool // agent type → requestor
	}{
		KindUpload:     {"http://terminology.hl7.org/CodeSystem/audit-event-type|rest", "C", []string{rest + "|create"}, map[string]bool{"http://terminology.hl7.org/CodeSystem/v3-ParticipationType|CST": true, dcm + "|110153": false}},
		KindAccess:     {"http://terminology.hl7.org/CodeSystem/audit-event-type|rest", "R", []string{rest + "|read"}, map[string]bool{"http://terminology.hl7.org/CodeSystem/v3-ParticipationType|IRCP": true, dcm + "|110153": false}},
		KindRequest:    {dcm + "|110106", "R", []string{life + "|disclose"}, map[string]bool{dcm + "|110152": true, dcm + "|110153": false, dcm + "|110150": false}},
		KindDelivery:   {dcm + "|110106", "R", []string{life + "|transmit"}, map[string]bool{dcm + "|110152": true, dcm + "|110153": false, dcm + "|110150": false}},
		KindReport:     {dcm + "|110110", "", nil, map[string]bool{"http://terminology.hl7.org/CodeSystem/v3-ParticipationType|IRCP": true, dcm + "|110150": false}},
		KindViolation:  {dcm + "|110113", "E", nil, map[string]bool{"http://terminology.hl7.org/CodeSystem/v3-ParticipationType|IRCP": true, dcm + "|110153": false}},
		KindRevocation: {dcm + "|110113", "E", []string{dcm + "|110137", "urn:medshare:control|revoke"}, map[string]bool{dcm + "|110150": true, "http://terminology.hl7.org/CodeSystem/v3-ParticipationType|IRCP": false}},
		KindRegrant:    {dcm + "|110113", "E", []string{dcm + "|110137", "urn:medshare:control|regrant"}, map[string]bool{dcm + "|110150": true, "http://terminology.hl7.org/CodeSystem/v3-ParticipationType|IRCP": false}},
		KindRecall:     {dcm + "|110113", "E", []string{dcm + "|110137", "urn:medshare:control|recall"}, map[string]bool{dcm + "|110150": true, "http://terminology.hl7.org/CodeSystem/v3-ParticipationType|IRCP": false}},
	}
	seen := map[string]bool{}
	kinds := map[Kind]bool{}
	for i, e := range trail() {
		docs, err := c.AuditEvents(&e)
		if err != nil {
			t.Fatalf("entry %d (%s): %v", i, e.Kind, err)
		}
		if e.Kind == KindReport && len(docs) != len(e.Actions) {
			t.Fatalf("report: %d events for %d actions", len(docs), len(e.Actions))
		}
		kinds[e.Kind] = true
		w := want[e.Kind]
		for j, doc := range docs {
			validateR4(t, doc)
			ev := decode(t, doc)
			if ev["resourceType"] != "AuditEvent" || seen[ev["id"].(string)] {
				t.Fatalf("entry %d: resourceType %v or id %v repeated", i, ev["resourceType"], ev["id"])
			}
			seen[ev["id"].(string)] = true
			s, c := codingOf(ev["type"])
			if s+"|"+c != w.typ {
				t.Errorf("%s: type %s|%s, want %s", e.Kind, s, c, w.typ)
			}
			if e.Kind == KindUpload && e.Version > 1 {
				w.action = "U"
			}
			if w.action != "" && ev["action"] != w.action {
				t.Errorf("%s: action %v, want %s", e.Kind, ev["action"], w.action)
			}
			var subs []string
			for _, sc := range ev["subtype"].([]any) {
				s, c := codingOf(sc)
				subs = append(subs, s+"|"+c)
			}
			if e.Kind == KindUpload && e.Version > 1 {
				w.subtype = []string{rest + "|update"}
			}
			if w.subtype != nil && strings.Join(subs, " ") != strings.Join(w.subtype, " ") {
				t.Errorf("%s: subtype %v, want %v", e.Kind, subs, w.subtype)
			}
			// recorded is the transaction's time (to the microsecond).
			if ev["recorded"] != e.Time.Truncate(time.Microsecond).Format("2006-01-02T15:04:05.000000Z") {
				t.Errorf("%s: recorded %v", e.Kind, ev["recorded"])
			}
			// outcome: 0 success, 4 refused, 8 failed; a description when not 0.
			wantOutcome := map[Outcome]string{Success: "0", Refused: "4", Failed: "8"}[e.Outcome]
			if ev["outcome"] != wantOutcome || (e.Outcome != Success) != (ev["outcomeDesc"] != nil) {
				t.Errorf("%s: outcome %v %v", e.Kind, ev["outcome"], ev["outcomeDesc"])
			}
			// agents: the pattern's participants, each with who and role.
			got := agentTypes(ev)
			for typ, req := range w.agents {
				if r, ok := got[typ]; !ok || r != req {
					if typ == "http://dicom.nema.org/resources/ontology/DCM|110153" && (e.Submitter.empty()) {
						continue
					}
					t.Errorf("%s: agent %s (requestor %v) missing in %v", e.Kind, typ, req, got)
				}
			}
			// source: the node and the channel.
			src := ev["source"].(jsonObj)
			if src["site"] != e.Channel || src["observer"].(jsonObj)["identifier"].(jsonObj)["value"] != e.Node {
				t.Errorf("%s: source %v", e.Kind, src)
			}
			// entity: what — a record (DocumentReference) or the package —
			// with the transaction's id and block.
			ents := ev["entity"].([]any)
			if len(ents) == 0 {
				t.Fatalf("%s: no entity", e.Kind)
			}
			for _, en := range ents {
				en := en.(jsonObj)
				what := en["what"].(jsonObj)
				sys := what["identifier"].(jsonObj)["system"]
				if sys != "urn:medshare:record" && sys != "urn:medshare:package" {
					t.Errorf("%s: entity what %v", e.Kind, what)
				}
				if sys == "urn:medshare:record" && what["type"] != "DocumentReference" {
					t.Errorf("%s: record entity type %v", e.Kind, what["type"])
				}
				details := map[string]string{}
				for _, d := range en["detail"].([]any) {
					d := d.(jsonObj)
					details[d["type"].(string)] = d["valueString"].(string)
				}
				if details["txID"] != e.TxID || details["channel"] != e.Channel {
					t.Errorf("%s: entity details %v", e.Kind, details)
				}
			}
			// purposeOfEvent for MeDShare steps.
			if e.Purpose != "" {
				pe := ev["purposeOfEvent"].([]any)[0].(jsonObj)["coding"].([]any)[0]
				if s, c := codingOf(pe); s != "http://terminology.hl7.org/CodeSystem/v3-ActReason" || c != e.Purpose {
					t.Errorf("%s: purposeOfEvent %v", e.Kind, pe)
				}
			}
			if e.Kind == KindReport {
				s, c := codingOf(ev["subtype"].([]any)[1])
				if s != "urn:medshare:action" || c != e.Actions[j].Name {
					t.Errorf("report action %d: subtype %s|%s", j, s, c)
				}
			}
		}
	}
	for k := range want {
		if !kinds[k] {
			t.Errorf("the scenario has no %s entry", k)
		}
	}
}

func TestProvenance(t *testing.T) {
	c := newConverter(t)
	n := 0
	for _, e := range trail() {
		doc, ok, err := c.Provenance(&e)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (e.Kind == KindUpload || e.Kind == KindRequest) {
			t.Fatalf("%s: provenance %v", e.Kind, ok)
		}
		if !ok {
			continue
		}
		n++
		validateR4(t, doc)
		p := decode(t, doc)
		target := p["target"].([]any)[0].(jsonObj)["identifier"].(jsonObj)
		switch e.Kind {
		case KindUpload:
			if target["system"] != "urn:medshare:record" || target["value"] != e.RecordIDs[0] {
				t.Errorf("upload target %v", target)
			}
		case KindRequest:
			if target["system"] != "urn:medshare:package" || target["value"] != e.PackageID || len(p["entity"].([]any)) != len(e.RecordIDs) {
				t.Errorf("package target %v, entities %v", target, p["entity"])
			}
			if p["occurredPeriod"] == nil || p["reason"] == nil {
				t.Errorf("package: no occurredPeriod or reason")
			}
		}
		if p["recorded"] == nil || len(p["agent"].([]any)) == 0 {
			t.Errorf("%s: recorded or agent missing", e.Kind)
		}
		if len(e.Signature) > 0 {
			sig := p["signature"].([]any)[0].(jsonObj)
			exts := sig["extension"].([]any)
			tx := exts[0].(jsonObj)["valueIdentifier"].(jsonObj)["value"]
			if tx != e.Channel+"/"+e.TxID || sig["data"] == nil || sig["who"] == nil || sig["when"] == nil {
				t.Errorf("%s: signature %v", e.Kind, sig)
			}
		}
	}
	if n != 3 {
		t.Fatalf("%d provenances, want 3", n)
	}
}

func TestBundles(t *testing.T) {
	c := newConverter(t)
	es := trail()
	coll, err := c.Bundle(es, BundleOptions{Timestamp: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	validateR4(t, coll)
	b := decode(t, coll)
	entries := b["entry"].([]any)
	// 17 AuditEvents (a report of 3 actions) and 3 Provenances, in order.
	if b["type"] != "collection" || len(entries) != 20 {
		t.Fatalf("collection: type %v, %d entries", b["type"], len(entries))
	}
	for _, e := range entries {
		e := e.(jsonObj)
		if e["fullUrl"] != "urn:uuid:"+e["resource"].(jsonObj)["id"].(string) {
			t.Fatalf("fullUrl %v", e["fullUrl"])
		}
	}
	page, err := c.Bundle(es[:5], BundleOptions{Type: Searchset, Total: len(es), Links: []Link{
		{"self", "https://127.0.0.1:8443/api/v1/audit/trail?user=a1b2&format=fhir"},
		{"next", "https://127.0.0.1:8443/api/v1/audit/trail?user=a1b2&format=fhir&bookmark=x"}}})
	if err != nil {
		t.Fatal(err)
	}
	validateR4(t, page)
	p := decode(t, page)
	if p["type"] != "searchset" || p["total"] != float64(len(es)) || len(p["link"].([]any)) != 2 ||
		p["entry"].([]any)[0].(jsonObj)["search"].(jsonObj)["mode"] != "match" {
		t.Fatalf("searchset %v", p)
	}
	// Deterministic.
	again, _ := c.Bundle(es, BundleOptions{Timestamp: t0.Add(time.Hour)})
	if !bytes.Equal(again, coll) {
		t.Fatal("the same trail gives another Bundle")
	}
	// Refused options.
	for _, o := range []BundleOptions{{Type: "history"}, {Total: 3}, {Links: []Link{{"next", "x"}}}, {Type: Searchset, Links: []Link{{"", "x"}}}} {
		if _, err := c.Bundle(es, o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
	bad := append([]Entry(nil), es...)
	bad[3].TxID = ""
	if _, err := c.Bundle(bad, BundleOptions{}); !errors.Is(err, ErrInvalidEntry) || !strings.Contains(err.Error(), "entry 3") {
		t.Fatalf("invalid entry: %v", err)
	}
}

// TestGolden compares the scenario's Bundle with the golden file.
func TestGolden(t *testing.T) {
	c := newConverter(t)
	doc, err := c.Bundle(trail(), BundleOptions{Timestamp: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, doc, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	path := filepath.Join("testdata", "golden", "trail-bundle.json")
	if *update {
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Fatalf("the trail Bundle differs from %s (go test -run TestGolden -update rewrites it after a deliberate change)", path)
	}
	validateR4(t, want)
}

func TestEntryValidate(t *testing.T) {
	ok := trail()
	cases := []struct {
		name   string
		i      int
		change func(*Entry)
		want   string
	}{
		{"kind", 0, func(e *Entry) { e.Kind = "download" }, "kind"},
		{"tx", 0, func(e *Entry) { e.TxID = strings.Repeat("x", 129) }, "txID"},
		{"time", 0, func(e *Entry) { e.Time = time.Time{} }, "time"},
		{"channel", 0, func(e *Entry) { e.Channel = "" }, "channel"},
		{"node", 0, func(e *Entry) { e.Node = "" }, "node"},
		{"actor", 0, func(e *Entry) { e.Actor = Party{MSP: "X"} }, "actor"},
		{"outcome", 0, func(e *Entry) { e.Outcome = 7 }, "outcome"},
		{"upload record", 0, func(e *Entry) { e.RecordIDs = nil }, "recordIDs"},
		{"upload version", 0, func(e *Entry) { e.Version = 0 }, "recordIDs"},
		{"refusal reason", 3, func(e *Entry) { e.Reason = "" }, "reason"},
		{"request subject", 5, func(e *Entry) { e.Subject = Party{} }, "requestID"},
		{"request records", 5, func(e *Entry) { e.RecordIDs = nil }, "recordIDs"},
		{"report actions", 7, func(e *Entry) { e.Actions = nil }, "actions"},
		{"report action", 7, func(e *Entry) { e.Actions[1].Name = "print" }, "actions[1]"},
		{"violation reason", 9, func(e *Entry) { e.Reason = "" }, "reason"},
		{"revocation subject", 10, func(e *Entry) { e.Subject = Party{} }, "subject"},
		{"empty record id", 2, func(e *Entry) { e.RecordIDs = []string{""} }, "recordIDs[0]"},
		{"control character", 3, func(e *Entry) { e.Detail = "a\x00b" }, "detail"},
		{"blank name", 2, func(e *Entry) { e.Actor.Name = "  " }, "actor"},
		{"white space in a code", 3, func(e *Entry) { e.Reason = "policy not met" }, "reason"},
	}
	c := newConverter(t)
	for _, tc := range cases {
		e := ok[tc.i]
		e.Actions = append([]Action(nil), e.Actions...)
		tc.change(&e)
		err := e.Validate()
		if !errors.Is(err, ErrInvalidEntry) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
		if _, err := c.AuditEvents(&e); !errors.Is(err, ErrInvalidEntry) {
			t.Errorf("%s: converted anyway", tc.name)
		}
	}
}

func TestConfig(t *testing.T) {
	for _, base := range []string{"", "medshare", "urn:medshare:", "https://x.example/fhir/", "urn:med share"} {
		if _, err := New(Config{Base: base}); err == nil {
			t.Errorf("base %q accepted", base)
		}
	}
	c, err := New(Config{Base: "https://consortium.example/fhir/sid"})
	if err != nil {
		t.Fatal(err)
	}
	e := trail()[0]
	docs, err := c.AuditEvents(&e)
	if err != nil {
		t.Fatal(err)
	}
	validateR4(t, docs[0])
	if !bytes.Contains(docs[0], []byte(`"system":"https://consortium.example/fhir/sid/record"`)) {
		t.Fatalf("base not used: %s", docs[0])
	}
}
