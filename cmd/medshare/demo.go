package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/client"
	"github.com/medshare/medshare/gateway/medpkg"
)

// demoReader is a data user of the demo: who, through which gateway.
type demoReader struct {
	label string // "the cardiologist"
	user  string // identity name in network.json
	org   int    // whose gateway is its home
}

// The demo's data users, as network/crypto-config.yaml defines them.
var demoReaders = []demoReader{
	{"cardiologist", "cardiologist@hospital2.example", 1},
	{"nurse", "nurse@hospital1.example", 0},
	{"researcher", "researcher@research.example", 2},
}

// demo is one run of the story.
type demo struct {
	ctx    context.Context
	out    io.Writer
	sys    localSystem
	op     *client.Client // hospital 1's operator at hospital 1's gateway
	record string
	names  map[string]string // user id → label
}

// runDemo tells the README walkthrough's story on its own, on real data
// through the gateways of a system started by make run (or
// scripts/network.sh up): hospital 1 uploads a Synthea patient; the
// cardiologist, the nurse and the researcher open it and each gets the
// levels their attributes allow; hospital 1 sees the refused attempts,
// recalls the record from the nurse (re-encrypted, the nurse revoked) and
// re-grants her. Then MeDShare: hospital 1 stores a second patient under a
// policy researchers may read up to its medium level; the researcher
// requests it for research, opens, reads and copies the de-identified
// package (each action reported), moves it against the usage contract and
// is revoked; hospital 1 re-grants, then recalls; the auditor reads and
// verifies the researcher's trail through hospital 2's gateway.
func runDemo(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	dir := fs.String("dir", "run", "the running system's directory (make run)")
	data := fs.String("data", "../shared/data/fhir/synthea", "folder of Synthea FHIR bundles")
	file := fs.String("file", "", "the bundle to upload (default: the first patient bundle of --data)")
	studyFile := fs.String("study", "", "the bundle the researcher requests (default: the next patient bundle of --data)")
	timeout := fs.Duration("timeout", 5*time.Minute, "time limit for the whole demo")
	if err := fs.Parse(args); err != nil {
		return err
	}
	raw, err := os.ReadFile(filepath.Join(*dir, systemFile))
	if err != nil {
		return fmt.Errorf("demo: no system runs from %s (make run, or scripts/network.sh up): %w", *dir, err)
	}
	d := &demo{out: stdout, names: map[string]string{}}
	if err := json.Unmarshal(raw, &d.sys); err != nil {
		return fmt.Errorf("demo: %s: %w", systemFile, err)
	}
	// The patients' bundles are named Given_Family_uuid.json.
	files, _ := filepath.Glob(filepath.Join(*data, "*_*_*.json"))
	path, study := *file, *studyFile
	for _, f := range files {
		switch {
		case path == "":
			path = f
		case study == "" && filepath.Base(f) != filepath.Base(path):
			study = f
		}
	}
	if path == "" || study == "" {
		return fmt.Errorf("demo: want two Synthea patient bundles in %s (or --file and --study)", *data)
	}
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	studyDoc, err := os.ReadFile(study)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	d.ctx = ctx
	if d.op, err = d.client(0, "operator@hospital1.example"); err != nil {
		return err
	}
	if err := d.upload(filepath.Base(path), doc); err != nil {
		return err
	}
	readers := map[string]*client.Reader{}
	for _, r := range demoReaders {
		if readers[r.label], err = d.reader(r); err != nil {
			return err
		}
		d.names[readers[r.label].User.ID()] = "the " + r.label
	}
	d.printf("\n2. Each data user opens it through their own organisation's gateway; proofs go to hospital 1's, which submits them to P-TL\n")
	docs := map[string][]byte{}
	for _, r := range demoReaders {
		waitIndexed(d.ctx, readers[r.label].Home, []string{d.record}) // each gateway reads the index on its own node
		if docs[r.label], err = d.open(r.label, readers[r.label], d.record, client.OpenOptions{Probe: true}); err != nil {
			return err
		}
	}
	d.printf("\n3. What each of them sees of the patient\n")
	for _, r := range demoReaders {
		if err := d.patient(r.label, docs[r.label]); err != nil {
			return err
		}
	}
	d.printf("\n4. Hospital 1 lists the violations on its record (every attempt is on the ledger)\n")
	if err := d.violations(d.record); err != nil {
		return err
	}
	if err := d.recallAndRegrant(readers["nurse"], readers["cardiologist"]); err != nil {
		return err
	}
	if err := d.medshare(filepath.Base(study), studyDoc, readers["researcher"]); err != nil {
		return err
	}
	if d.ctx.Err() != nil {
		return errors.Join(errors.New("demo: out of time"), d.ctx.Err())
	}
	d.printf("\nDone. The same story, command by command: the README's walkthrough.\n")
	return nil
}

func (d *demo) printf(format string, args ...any) { fmt.Fprintf(d.out, format, args...) }

// identity returns a user's identity directory from network.json.
func (d *demo) identity(name string) (string, error) {
	for _, u := range d.sys.Users {
		if u.Name == name {
			return u.Identity, nil
		}
	}
	return "", fmt.Errorf("demo: %s is not a user of this system (network/crypto-config.yaml)", name)
}

func (d *demo) flags(org int, user string) (*gwFlags, error) {
	id, err := d.identity(user)
	if err != nil {
		return nil, err
	}
	return &gwFlags{url: d.sys.Orgs[org].Gateway, id: id, crypto: d.sys.Crypto}, nil
}

func (d *demo) client(org int, user string) (*client.Client, error) {
	g, err := d.flags(org, user)
	if err != nil {
		return nil, err
	}
	return g.client()
}

// reader loads a data user's reader from the key and credential make run
// enrolled (<identity>/abe), as `medshare access` does.
func (d *demo) reader(r demoReader) (*client.Reader, error) {
	g, err := d.flags(r.org, r.user)
	if err != nil {
		return nil, err
	}
	return g.loadReader()
}

func (d *demo) upload(name string, doc []byte) error {
	d.printf("1. Hospital 1's operator uploads %s through hospital 1's gateway (default policy)\n", name)
	up, err := d.op.Upload(d.ctx, &api.UploadRequest{Document: doc})
	if err != nil {
		return fmt.Errorf("demo: upload: %w", err)
	}
	d.record = up.RecordID
	d.printf("   record %s: graded %d high, %d medium, %d low elements; %d levels stored on the side chains, indexed=%v\n",
		up.RecordID, up.Counts.High, up.Counts.Medium, up.Counts.Low, len(up.Levels), up.Indexed)
	return nil
}

// open opens a record as a reader and prints each level's outcome (with
// Probe, every level is asked for, even those the reader's attributes
// cannot satisfy, so that P-TL records the refusals).
func (d *demo) open(label string, r *client.Reader, record string, opts client.OpenOptions) ([]byte, error) {
	res, err := r.Open(d.ctx, record, opts)
	if err != nil {
		return nil, fmt.Errorf("demo: %s opens the record: %w", label, err)
	}
	var parts []string
	for _, l := range res.Levels {
		switch l.Status {
		case client.Opened:
			parts = append(parts, l.Level+" opened")
		case client.Refused:
			parts = append(parts, l.Level+" refused ("+l.Reason+")")
		default:
			parts = append(parts, l.Level+" "+l.Status)
		}
	}
	d.printf("   %-12s %s\n", label, strings.Join(parts, ", "))
	return res.Document, nil
}

// patientView is what a document shows of its Patient resource.
type patientView struct {
	ID, Family, Street, City, PostalCode, BirthDate string
}

// patientOf finds the Patient resource of a FHIR Bundle.
func patientOf(doc []byte) (*patientView, error) {
	var b struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(doc, &b); err != nil {
		return nil, err
	}
	for _, e := range b.Entry {
		var p struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
			Name         []struct {
				Family string `json:"family"`
			} `json:"name"`
			Address []struct {
				Line       []string `json:"line"`
				City       string   `json:"city"`
				PostalCode string   `json:"postalCode"`
			} `json:"address"`
			BirthDate string `json:"birthDate"`
		}
		if err := json.Unmarshal(e.Resource, &p); err != nil || p.ResourceType != "Patient" {
			continue
		}
		v := &patientView{ID: p.ID, BirthDate: p.BirthDate}
		if len(p.Name) > 0 {
			v.Family = p.Name[0].Family
		}
		if len(p.Address) > 0 {
			v.City, v.PostalCode = p.Address[0].City, p.Address[0].PostalCode
			if len(p.Address[0].Line) > 0 {
				v.Street = p.Address[0].Line[0]
			}
		}
		return v, nil
	}
	return nil, errors.New("no Patient resource")
}

// withheld shows an absent value as withheld.
func withheld(s string) string {
	if s == "" {
		return "(withheld)"
	}
	return s
}

// patient prints the Patient resource's name, street, city and birth date
// as a reader got them.
func (d *demo) patient(label string, doc []byte) error {
	if doc == nil {
		d.printf("   %-12s nothing\n", label)
		return nil
	}
	p, err := patientOf(doc)
	if err != nil {
		return fmt.Errorf("demo: %s's document: %w", label, err)
	}
	d.printf("   %-12s name %s, street %s, city %s, born %s\n", label, withheld(p.Family), withheld(p.Street), withheld(p.City), withheld(p.BirthDate))
	return nil
}

// violations lists the violations on a record as hospital 1 sees them.
func (d *demo) violations(record string) error {
	p, err := d.op.Violations(d.ctx, record, 50, "")
	if err != nil {
		return fmt.Errorf("demo: violations: %w", err)
	}
	for _, v := range p.Items {
		who := d.names[v.User]
		if who == "" {
			who = "user " + v.User
		}
		d.printf("   %-6s %s by %s, blamed on the %s (tx %s)\n", v.Level, v.Reason, who, v.Blame, v.TxID)
	}
	return nil
}

// recallAndRegrant recalls the record from the nurse (new version under
// fresh keys, the nurse blocked), shows her refused and the cardiologist
// still reading, then lifts the nurse's block.
func (d *demo) recallAndRegrant(nurse, cardiologist *client.Reader) error {
	d.printf("\n5. Hospital 1 recalls the record from the nurse: re-encrypted as a new version, the old ciphertext unpinned, the nurse blocked\n")
	rc, err := d.op.Recall(d.ctx, d.record, &api.RecallRequest{User: nurse.User.ID(), Reason: "end of the shift"})
	if err != nil {
		return fmt.Errorf("demo: recall: %w", err)
	}
	d.printf("   version %d, %d old objects unpinned, the nurse blocked on %d levels\n", rc.Version, len(rc.Unpinned), len(rc.Blocked))
	if _, err := d.open("nurse", nurse, d.record, client.OpenOptions{Probe: true}); err != nil {
		return err
	}
	if _, err := d.open("cardiologist", cardiologist, d.record, client.OpenOptions{Probe: true}); err != nil {
		return err
	}
	d.printf("\n6. Hospital 1 re-grants the nurse\n")
	// The re-grant goes through hospital 1's node; P-TL reads the block
	// there, so retry until the recall's blocks are visible to it.
	var rg *api.Regrant
	for {
		rg, err = d.op.Regrant(d.ctx, d.record, &api.RegrantRequest{User: nurse.User.ID()})
		if err == nil || d.ctx.Err() != nil {
			break
		}
		select {
		case <-d.ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("demo: regrant: %w", err)
	}
	d.printf("   blocks lifted on %d levels\n", len(rg.TxIDs))
	_, err = d.open("nurse", nurse, d.record, client.OpenOptions{Probe: true})
	return err
}

// researchPolicy lets doctors, nurses and researchers open a level.
const researchPolicy = "role = doctor or role = nurse or role = researcher"

// medshare is the demo's MeDShare part, the README walkthrough's step 6:
// a record shared for research, a package, allowed and forbidden actions,
// revocation, the owner's re-grant and recall, the auditor's trail.
func (d *demo) medshare(name string, doc []byte, researcher *client.Reader) error {
	d.printf("\n7. Hospital 1 stores %s under a policy that also opens its medium level to researchers\n", name)
	d.printf("   (a package holds no more than the requestor's attributes open; the default policy opens only the low level to researchers)\n")
	pol := policyFlags{low: researchPolicy, medium: researchPolicy, high: "role = doctor and trust >= 2", valid: 30 * 24 * time.Hour}
	up, err := d.op.Upload(d.ctx, pol.request(doc, time.Now()))
	if err != nil {
		return fmt.Errorf("demo: upload the study's record: %w", err)
	}
	record := up.RecordID
	d.printf("   record %s: %d levels stored, indexed=%v\n", record, len(up.Levels), up.Indexed)

	d.printf("\n8. The researcher requests it for research (HRESCH) through the research institute's gateway; hospital 1's gateway\n")
	d.printf("   de-identifies it, seals the package to the researcher's key and records it as a parent block\n")
	rq := &client.Requestor{Home: researcher.Home, User: researcher.User}
	waitIndexed(d.ctx, rq.Home, []string{record})
	h, err := rq.Request(d.ctx, client.RequestSpec{Name: fmt.Sprintf("demo-%d", time.Now().UnixNano()), RecordIDs: []string{record}, Purpose: "HRESCH", Level: "medium"})
	if err != nil {
		return fmt.Errorf("demo: the researcher's request: %w", err)
	}
	if err := checkRecorded(d.ctx, rq, h); err != nil {
		return fmt.Errorf("demo: the package against its parent block: %w", err)
	}
	p := h.Package
	d.printf("   request %s: package %s (%s) on %s, profile %s, rules %s, allowed %s; its hash is the parent block's (tx %s)\n",
		p.RequestID, p.DataID, sizeOf(len(p.Envelope)), p.Channel, p.Profile, p.RulesVersion, strings.Join(p.Allowed, ", "), p.TxID)
	s, err := h.Session(nil) // records "decrypted"
	if err != nil {
		return fmt.Errorf("demo: open the package: %w", err)
	}
	pkg := s.Package()
	if _, err := d.flush(rq, h, s, fmt.Sprintf("opened: %d record(s), purpose %s, sensitivity %s; decrypted", len(pkg.Records), pkg.Purpose, pkg.Sensitivity)); err != nil {
		return err
	}
	var data []byte
	if _, err := s.Perform(provenance.ActionRead, func(p *medpkg.Package) error { data = p.FHIR(); return nil }); err != nil {
		return err
	}
	if _, err := d.flush(rq, h, s, "read"); err != nil {
		return err
	}
	orig, err := patientOf(doc)
	if err != nil {
		return fmt.Errorf("demo: %s: %w", name, err)
	}
	got, err := patientOf(data)
	if err != nil {
		return fmt.Errorf("demo: the package: %w", err)
	}
	d.printf("   the patient in the package: name %s, street %s, city %s, born %s, postal code %s\n",
		withheld(got.Family), withheld(got.Street), withheld(got.City), withheld(got.BirthDate), withheld(got.PostalCode))
	d.printf("   (in the record: born %s, postal code %s); the patient's id %s occurs %d times in the bundle, %d times in the package\n",
		orig.BirthDate, withheld(orig.PostalCode), orig.ID, bytes.Count(doc, []byte(orig.ID)), bytes.Count(data, []byte(orig.ID)))

	d.printf("\n9. The researcher copies the data (allowed), then moves the package (forbidden by the usage contract)\n")
	work, err := os.MkdirTemp("", "medshare-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if _, err := s.Perform(provenance.ActionCopy, func(p *medpkg.Package) error {
		return os.WriteFile(filepath.Join(work, "study-export.json"), p.FHIR(), 0o600)
	}); err != nil {
		return err
	}
	if _, err := d.flush(rq, h, s, "copy (allowed)"); err != nil {
		return err
	}
	if v, err := pkg.Contract.Check(provenance.ActionMove); err != nil || v != medpkg.Forbidden {
		return fmt.Errorf("demo: the usage contract does not forbid move (%v, %v)", v, err)
	}
	if _, err := s.Perform(provenance.ActionMove, func(*medpkg.Package) error {
		if err := os.WriteFile(filepath.Join(work, "moved.pkg"), h.Package.Envelope, 0o600); err != nil {
			return err
		}
		h.Package.Envelope = nil
		return nil
	}); err != nil {
		return err
	}
	res, err := d.flush(rq, h, s, "move (forbidden)")
	if err != nil {
		return err
	}
	if len(res) == 0 || len(res[len(res)-1].Violations) == 0 || len(res[len(res)-1].Revoked) == 0 {
		return errors.New("demo: the forbidden move was not recorded as a violation that revokes the researcher")
	}
	// Only the medium level: each refused level is a violation, and three
	// on one record within the monitor's window would block the researcher
	// beyond what the owner's re-grant of this request lifts.
	medium := client.OpenOptions{Levels: []policy.Level{policy.Medium}}
	if _, err := d.open("researcher", researcher, record, medium); err != nil {
		return err
	}

	d.printf("\n10. Hospital 1 sees the violation and decides: it re-grants the request, then recalls the package\n")
	if err := d.waitViolation(record, ptl.ReasonForbiddenAction); err != nil {
		return err
	}
	if err := d.violations(record); err != nil {
		return err
	}
	rg, err := d.op.RegrantRequest(d.ctx, p.RequestID, "the researcher explained the move")
	if err != nil {
		return fmt.Errorf("demo: re-grant the request: %w", err)
	}
	d.printf("   re-granted: side-block %s (tx %s)\n", rg.SideBlock.ID, rg.TxID)
	if _, err := d.open("researcher", researcher, record, medium); err != nil {
		return err
	}
	rc, err := d.op.RecallRequest(d.ctx, p.RequestID, "study closed")
	if err != nil {
		return fmt.Errorf("demo: recall the package: %w", err)
	}
	d.printf("   recalled: side-block %s (tx %s); the researcher is blocked for the record until a re-grant\n", rc.SideBlock.ID, rc.TxID)
	return d.audit(researcher.User.ID(), p.RequestID)
}

// flush reports the session's pending actions through the researcher's
// gateway and prints each side-block.
func (d *demo) flush(rq *client.Requestor, h *client.Held, s *medpkg.Session, what string) ([]*api.ReportResult, error) {
	res, err := rq.Flush(d.ctx, h, s)
	if err != nil {
		return nil, fmt.Errorf("demo: report %s: %w", what, err)
	}
	for _, r := range res {
		d.printf("   %s: reported, side-block %s (tx %s)", what, r.SideBlock, r.TxID)
		if len(r.Violations) > 0 {
			d.printf("; violation %s, the researcher revoked on %d block(s)", strings.Join(r.Violations, ", "), len(r.Revoked))
		}
		d.printf("\n")
	}
	return res, nil
}

// waitViolation waits until hospital 1's gateway sees a violation with
// reason on record: the report went through another organisation's
// gateway and node.
func (d *demo) waitViolation(record, reason string) error {
	for {
		p, err := d.op.Violations(d.ctx, record, 50, "")
		if err != nil {
			return fmt.Errorf("demo: violations: %w", err)
		}
		for _, v := range p.Items {
			if v.Reason == reason {
				return nil
			}
		}
		select {
		case <-d.ctx.Done():
			return fmt.Errorf("demo: no %s violation on %s: %w", reason, record, d.ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// audit reads the researcher's trail as the consortium's auditor through
// hospital 2's gateway, as JSON and as FHIR, and verifies it on every node.
// The recall of request was committed through hospital 1's node; the trail
// is read once hospital 2's node has it too.
func (d *demo) audit(user, request string) error {
	d.printf("\n11. The consortium's auditor reads the researcher's trail through hospital 2's gateway (a read warrant carries its rights)\n")
	ac, err := d.client(1, "auditor@research.example")
	if err != nil {
		return err
	}
	rc, err := ac.Reading(d.ctx)
	if err != nil {
		return fmt.Errorf("demo: the auditor's read warrant: %w", err)
	}
	var t *api.Trail
	for {
		if t, err = rc.TrailAll(d.ctx, client.TrailQuery{User: user}); err != nil {
			return fmt.Errorf("demo: the researcher's trail: %w", err)
		}
		if n := len(t.Items); n > 0 && t.Items[n-1].Kind == "recall" && t.Items[n-1].RequestID == request {
			break
		}
		select {
		case <-d.ctx.Done():
			return fmt.Errorf("demo: the recall of %s is not in the trail hospital 2's gateway reads: %w", request, d.ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	for _, e := range t.Items {
		var actions []string
		for _, a := range e.Actions {
			actions = append(actions, a.Action)
		}
		d.printf("   %-11s block %-4d %-10s %-8s %-9s %-16s %s\n", e.Channel, e.Block, e.Kind, e.Outcome, strings.Join(actions, ","), e.Reason, e.Time.Format(time.RFC3339))
	}
	b, err := rc.TrailFHIR(d.ctx, client.TrailQuery{User: user, PageSize: 100})
	if err != nil {
		return fmt.Errorf("demo: the researcher's trail as FHIR: %w", err)
	}
	var bundle struct {
		Entry []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(b, &bundle); err != nil {
		return fmt.Errorf("demo: the trail as FHIR: %w", err)
	}
	count := map[string]int{}
	for _, e := range bundle.Entry {
		count[e.Resource.ResourceType]++
	}
	d.printf("   %d steps; as FHIR R4: %d AuditEvent, %d Provenance\n", len(t.Items), count["AuditEvent"], count["Provenance"])
	v, err := rc.Verify(d.ctx, user, "")
	if err != nil {
		return fmt.Errorf("demo: verify the researcher's trail: %w", err)
	}
	nodes := map[string]bool{}
	for _, n := range v.Nodes {
		nodes[n.Node] = true
	}
	d.printf("   verified on %d nodes: ok=%v, %d MeDShare blocks re-walked, %d problems\n", len(nodes), v.OK, v.Blocks, len(v.Problems))
	if !v.OK {
		return fmt.Errorf("demo: the trail does not verify: %+v", v.Problems[0])
	}
	return nil
}
