package main

import (
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

	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/client"
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
// re-grants her.
func runDemo(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	dir := fs.String("dir", "run", "the running system's directory (make run)")
	data := fs.String("data", "../shared/data/fhir/synthea", "folder of Synthea FHIR bundles")
	file := fs.String("file", "", "the bundle to upload (default: the first patient bundle of --data)")
	timeout := fs.Duration("timeout", 3*time.Minute, "time limit for the whole demo")
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
	path := *file
	if path == "" {
		// The patients' bundles are named Given_Family_uuid.json.
		files, _ := filepath.Glob(filepath.Join(*data, "*_*_*.json"))
		if len(files) == 0 {
			return fmt.Errorf("demo: no Synthea patient bundle in %s", *data)
		}
		path = files[0]
	}
	doc, err := os.ReadFile(path)
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
		if docs[r.label], err = d.open(r.label, readers[r.label]); err != nil {
			return err
		}
	}
	d.printf("\n3. What each of them sees of the patient\n")
	for _, r := range demoReaders {
		if err := d.patient(r.label, docs[r.label]); err != nil {
			return err
		}
	}
	if err := d.violations(); err != nil {
		return err
	}
	if err := d.recallAndRegrant(readers["nurse"], readers["cardiologist"]); err != nil {
		return err
	}
	// Issue 13 continues the story here: the researcher's MeDShare request
	// for research, its package, a forbidden action and the revocation that
	// follows, and the auditor's trail.
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

// open opens the record as a reader, asking for every level.
func (d *demo) open(label string, r *client.Reader) ([]byte, error) {
	res, err := r.Open(d.ctx, d.record, client.OpenOptions{Probe: true})
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

// patient prints the Patient resource's name, street, city and birth date
// as a reader got them.
func (d *demo) patient(label string, doc []byte) error {
	if doc == nil {
		d.printf("   %-12s nothing\n", label)
		return nil
	}
	var b struct {
		Entry []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(doc, &b); err != nil {
		return fmt.Errorf("demo: %s's document: %w", label, err)
	}
	for _, e := range b.Entry {
		var p struct {
			ResourceType string `json:"resourceType"`
			Name         []struct {
				Family string `json:"family"`
			} `json:"name"`
			Address []struct {
				Line []string `json:"line"`
				City string   `json:"city"`
			} `json:"address"`
			BirthDate string `json:"birthDate"`
		}
		var kind struct {
			ResourceType string `json:"resourceType"`
		}
		if json.Unmarshal(e.Resource, &kind) != nil || kind.ResourceType != "Patient" {
			continue
		}
		if err := json.Unmarshal(e.Resource, &p); err != nil {
			return fmt.Errorf("demo: %s's Patient: %w", label, err)
		}
		or := func(s string) string {
			if s == "" {
				return "(withheld)"
			}
			return s
		}
		var family, street, city string
		if len(p.Name) > 0 {
			family = p.Name[0].Family
		}
		if len(p.Address) > 0 {
			city = p.Address[0].City
			if len(p.Address[0].Line) > 0 {
				street = p.Address[0].Line[0]
			}
		}
		d.printf("   %-12s name %s, street %s, city %s, born %s\n", label, or(family), or(street), or(city), or(p.BirthDate))
		return nil
	}
	return fmt.Errorf("demo: %s's document has no Patient", label)
}

// violations lists the refused attempts as hospital 1 sees them.
func (d *demo) violations() error {
	d.printf("\n4. Hospital 1 lists the violations on its record (every attempt is on the ledger)\n")
	p, err := d.op.Violations(d.ctx, d.record, 50, "")
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
	if _, err := d.open("nurse", nurse); err != nil {
		return err
	}
	if _, err := d.open("cardiologist", cardiologist); err != nil {
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
	if _, err := d.open("nurse", nurse); err != nil {
		return err
	}
	if d.ctx.Err() != nil {
		return errors.Join(errors.New("demo: out of time"), d.ctx.Err())
	}
	return nil
}
