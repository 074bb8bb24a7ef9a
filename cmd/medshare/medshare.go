package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/gateway/client"
	"github.com/medshare/medshare/gateway/medpkg"
)

// MeDShare on the command line: the requestor's request and package
// actions (each performed and reported), the owner's decisions, the audit
// trail and its verification (docs/medshare.md).

// storeFlag is the requestor's package store.
func storeFlag(fs *flag.FlagSet) *string {
	return fs.String("store", os.Getenv("MEDSHARE_PACKAGES"), "where your packages and their keys are kept (default <id>/packages; env MEDSHARE_PACKAGES)")
}

func (g *gwFlags) store(dir string) client.PackageStore {
	if dir == "" {
		dir = filepath.Join(g.id, "packages")
	}
	return client.PackageStore{Dir: dir}
}

// loadRequestor builds the requestor's client from its identity and the
// enrolment medshare enrol kept (its request key's binding to its user id).
func (g *gwFlags) loadRequestor() (*client.Requestor, error) {
	r, err := g.loadReader()
	if err != nil {
		return nil, err
	}
	return &client.Requestor{Home: r.Home, User: r.User}, nil
}

// runRequest asks a record owner's gateway for a package for a purpose.
func runRequest(args []string, stdout io.Writer) error {
	fs, g := gwCommand("request")
	purpose := fs.String("purpose", "HRESCH", "HL7 v3 PurposeOfUse code: HRESCH (research), TREAT, PUBHLTH, HOPERAT, …")
	level := fs.String("level", "medium", "the sensitivity asked for: the package holds nothing above it (low, medium, high)")
	name := fs.String("name", "", "the request's name (default req-<unix time>)")
	dir := storeFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("usage: medshare request [flags] RECORD-ID...")
	}
	if *name == "" {
		*name = fmt.Sprintf("req-%d", time.Now().Unix())
	}
	rq, err := g.loadRequestor()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
	defer cancel()
	waitIndexed(ctx, rq.Home, fs.Args())
	h, err := rq.Request(ctx, client.RequestSpec{Name: *name, RecordIDs: fs.Args(), Purpose: *purpose, Level: *level})
	if err != nil {
		return err
	}
	if err := g.store(*dir).Save(h); err != nil {
		return err
	}
	if err := checkRecorded(ctx, rq, h); err != nil {
		return fmt.Errorf("the package is kept, but: %w", err)
	}
	p := h.Package
	fmt.Fprintf(stdout, "request   %s\npackage   %s (%s, sha256 %s)\nchannel   %s, profile %s, rules %s\nallowed   %s\nexpires   %s\ntx        %s\n",
		p.RequestID, p.DataID, sizeOf(len(p.Envelope)), p.PackageHash, p.Channel, p.Profile, p.RulesVersion,
		strings.Join(p.Allowed, ", "), p.ExpiresAt.Format(time.RFC3339), p.TxID)
	fmt.Fprintf(stdout, "kept in %s; open it with: medshare package open %s\n", g.store(*dir).Path(p.RequestID), p.RequestID)
	return nil
}

// A gateway answers a write once its own organisation's node has committed
// it; another organisation's node commits it a moment later. A requestor's
// client reads through its own organisation's gateway what the owner's
// gateway has just written — the index entry of a record just uploaded, the
// parent block of the package just delivered — so it asks again, for a
// bounded time, while the answer is "not found".
const (
	// indexedWait bounds the wait for a record's index entry (short: a
	// mistyped record id waits this long before its 404).
	indexedWait = 10 * time.Second
	// recordedWait bounds the wait for a delivered package's parent block.
	recordedWait = 30 * time.Second
)

// untilFound calls f until it returns anything but a 404 problem, the
// context ends or wait passes, and returns its last error.
func untilFound(ctx context.Context, wait time.Duration, f func() error) error {
	deadline := time.Now().Add(wait)
	for {
		err := f()
		var pe *client.ProblemError
		if err == nil || !errors.As(err, &pe) || pe.Status != http.StatusNotFound || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitIndexed waits until the requestor's own gateway finds each record in
// the index (or indexedWait passes: the request then reports what is
// missing).
func waitIndexed(ctx context.Context, home *client.Client, ids []string) {
	for _, id := range ids {
		_ = untilFound(ctx, indexedWait, func() error { _, err := home.Record(ctx, id); return err })
	}
}

// checkRecorded checks a held package against its parent block, read
// through the requestor's own gateway.
func checkRecorded(ctx context.Context, rq *client.Requestor, h *client.Held) error {
	return untilFound(ctx, recordedWait, func() error { return rq.CheckRecorded(ctx, h) })
}

func sizeOf(n int) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/1024)
}

// packageVerbs are the package commands; each but list performs its
// action and reports it (open reports only "decrypted").
var packageVerbs = []string{"list", "open", "read", "export", "copy", "write", "duplicate", "move", "delete", "report"}

// runPackage performs an action on a held package and reports it.
func runPackage(args []string, stdout io.Writer) error {
	verb, args, err := subcommand(args, packageVerbs...)
	if err != nil {
		return err
	}
	fs, g := gwCommand("package " + verb)
	dir := storeFlag(fs)
	out := fs.String("out", "", "copy, export: the file to write the data to")
	from := fs.String("from", "", "write: the file holding your modified data")
	to := fs.String("to", "", "move: where to move the sealed package")
	yes := fs.Bool("yes", false, "perform an action the usage contract forbids (it is reported, and revokes your access)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	store := g.store(*dir)
	if verb == "list" {
		ids, err := store.List()
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "REQUEST\tCHANNEL\tPURPOSE\tEXPIRES\tNEXT REPORT")
		for _, id := range ids {
			h, _ := store.Load(id)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", id, h.Package.Channel, h.Package.Purpose, h.Package.ExpiresAt.Format(time.RFC3339), h.NextSeq)
		}
		return tw.Flush()
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: medshare package %s [flags] REQUEST-ID", verb)
	}
	h, err := store.Load(fs.Arg(0))
	if err != nil {
		return err
	}
	rq, err := g.loadRequestor()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
	defer cancel()
	if verb == "report" { // send what an earlier command could not
		return flushReports(ctx, rq, store, h, nil, stdout)
	}
	if h.Package.Envelope == nil {
		return fmt.Errorf("package %s is no longer in your store (moved or deleted)", h.Package.RequestID)
	}
	s, err := h.Session(nil)
	if err != nil {
		return err
	}
	action := map[string]string{"read": provenance.ActionRead, "export": provenance.ActionCopy, "copy": provenance.ActionCopy,
		"write": provenance.ActionWrite, "duplicate": provenance.ActionDuplicate, "move": provenance.ActionMove, "delete": provenance.ActionDelete}[verb]
	if action != "" {
		v, err := s.Package().Contract.Check(action)
		if err != nil {
			return err
		}
		if v == medpkg.Forbidden && !*yes {
			// Report "decrypted" even so, and do nothing else.
			if err := flushReports(ctx, rq, store, h, s, io.Discard); err != nil {
				return err
			}
			return fmt.Errorf("%s is forbidden by the package's usage contract (allowed: %s): doing it is reported and revokes your access; pass --yes to do it anyway",
				action, strings.Join(s.Package().Contract.Allowed, ", "))
		}
		if _, err := s.Perform(action, func(p *medpkg.Package) error { return perform(verb, p, h, store, *out, *from, *to, stdout) }); err != nil {
			_ = flushReports(ctx, rq, store, h, s, io.Discard)
			return err
		}
	}
	if err := flushReports(ctx, rq, store, h, s, os.Stderr); err != nil {
		return err
	}
	if verb == "open" {
		p := s.Package()
		fmt.Fprintf(stdout, "package %s opened (decrypted reported): %d record(s), purpose %s, sensitivity %s, rules %s\nallowed: %s; expires %s\n",
			p.DataID, len(p.Records), p.Purpose, p.Sensitivity, p.RulesVersion, strings.Join(p.Contract.Allowed, ", "), p.ExpiresAt.Format(time.RFC3339))
	}
	return nil
}

// perform does a package action on the requestor's side.
func perform(verb string, p *medpkg.Package, h *client.Held, store client.PackageStore, out, from, to string, stdout io.Writer) error {
	dir := store.Path(h.Package.RequestID)
	switch verb {
	case "read":
		_, err := stdout.Write(append(p.FHIR(), '\n'))
		return err
	case "copy", "export":
		if out == "" {
			return errors.New("--out is required: the file to write the data to")
		}
		return os.WriteFile(out, p.FHIR(), 0o600)
	case "write":
		if from == "" {
			return errors.New("--from is required: the file holding your modified data")
		}
		b, err := os.ReadFile(from)
		if err != nil {
			return err
		}
		if !json.Valid(b) {
			return fmt.Errorf("%s is not JSON", from)
		}
		return os.WriteFile(filepath.Join(dir, "work.json"), b, 0o600)
	case "duplicate":
		n := 1
		for ; ; n++ {
			if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("duplicate-%d.pkg", n))); errors.Is(err, os.ErrNotExist) {
				break
			}
		}
		return os.WriteFile(filepath.Join(dir, fmt.Sprintf("duplicate-%d.pkg", n)), h.Package.Envelope, 0o600)
	case "move":
		if to == "" {
			return errors.New("--to is required: where to move the sealed package")
		}
		if err := os.WriteFile(to, h.Package.Envelope, 0o600); err != nil {
			return err
		}
		h.Package.Envelope = nil
		return nil
	case "delete":
		h.Package.Envelope = nil
		_ = os.Remove(filepath.Join(dir, "work.json"))
		return nil
	}
	return nil
}

// flushReports sends the session's pending reports (and earlier unsent
// ones) and saves the held package whatever happens.
func flushReports(ctx context.Context, rq *client.Requestor, store client.PackageStore, h *client.Held, s *medpkg.Session, w io.Writer) error {
	if s == nil && h.Package.Envelope != nil {
		var err error
		if s, err = h.Session(nil); err != nil {
			return err
		}
	}
	res, err := rq.Flush(ctx, h, s) // without a session (the package moved or deleted): the unsent reports

	if serr := store.Save(h); serr != nil && err == nil {
		err = serr
	}
	for _, r := range res {
		fmt.Fprintf(w, "reported: side-block %s (tx %s)", r.SideBlock, r.TxID)
		if len(r.Violations) > 0 {
			fmt.Fprintf(w, "; VIOLATION %s: your access to the package's records is revoked until the owner re-grants", strings.Join(r.Violations, ", "))
		}
		fmt.Fprintln(w)
	}
	if err != nil {
		return fmt.Errorf("reporting failed (the report is kept; medshare package report %s sends it): %w", h.Package.RequestID, err)
	}
	return nil
}

// runRequests is the owner's view of the MeDShare requests it answered.
func runRequests(args []string, stdout io.Writer) error {
	verb, args, err := subcommand(args, "list", "show", "regrant", "recall")
	if err != nil {
		return err
	}
	fs, g := gwCommand("requests " + verb)
	reason := fs.String("reason", "", "regrant, recall: the reason recorded in the side-block")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, ctx, cancel, err := g.connect()
	if err != nil {
		return err
	}
	defer cancel()
	if verb == "list" {
		bm := ""
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "REQUEST\tCHANNEL\tREQUESTOR\tRECORDS\tAT")
		for {
			pg, err := c.Requests(ctx, 100, bm)
			if err != nil {
				return err
			}
			for _, r := range pg.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", r.RequestID, r.Channel, r.Requestor, len(r.RecordIDs), r.At.Format(time.RFC3339))
			}
			if bm = pg.Bookmark; bm == "" {
				return tw.Flush()
			}
		}
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: medshare requests %s [flags] REQUEST-ID", verb)
	}
	id := fs.Arg(0)
	switch verb {
	case "show":
		rc, err := readingClient(ctx, c)
		if err != nil {
			return err
		}
		v, err := rc.RequestView(ctx, id)
		if err != nil {
			return err
		}
		return printJSON(stdout, v)
	case "regrant":
		d, err := c.RegrantRequest(ctx, id, *reason)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "re-granted %s: side-block %s (tx %s)\n", id, d.SideBlock.ID, d.TxID)
	default:
		d, err := c.RecallRequest(ctx, id, *reason)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "recalled %s: side-block %s (tx %s); the requestor is blocked for its records until a re-grant\n", id, d.SideBlock.ID, d.TxID)
	}
	return nil
}

// readingClient is c with a read warrant, unless the caller is a data owner
// of the gateway's organisation (who reads its records as the gateway).
func readingClient(ctx context.Context, c *client.Client) (*client.Client, error) {
	me, err := c.Whoami(ctx)
	if err != nil {
		return nil, err
	}
	if me.Role == "owner" && me.MSP == me.Gateway {
		return c, nil
	}
	return c.Reading(ctx)
}

// runAudit reads and verifies trails.
func runAudit(args []string, stdout io.Writer) error {
	verb, args, err := subcommand(args, "trail", "verify", "warrant")
	if err != nil {
		return err
	}
	fs, g := gwCommand("audit " + verb)
	user := fs.String("user", "", "a user's (requestor's) trail: its user id (medshare whoami shows yours)")
	record := fs.String("record", "", "trail: a record's trail")
	owner := fs.String("owner", "", "trail: your organisation's trail (its MSP id; data owners)")
	request := fs.String("request", "", "verify: one request")
	format := fs.String("format", "json", "trail: json or fhir (a FHIR R4 Bundle of AuditEvent and Provenance)")
	from := fs.String("from", "", "trail: entries at or after this time (RFC 3339)")
	to := fs.String("to", "", "trail: entries before this time (RFC 3339)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, ctx, cancel, err := g.connect()
	if err != nil {
		return err
	}
	defer cancel()
	if verb == "warrant" {
		w, err := c.Warrant(ctx)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, w)
		return err
	}
	rc, err := readingClient(ctx, c)
	if err != nil {
		return err
	}
	if verb == "verify" {
		if (*user == "") == (*request == "") {
			return errors.New("name one of --user or --request")
		}
		v, err := rc.Verify(ctx, *user, *request)
		if err != nil {
			return err
		}
		if err := printJSON(stdout, v); err != nil {
			return err
		}
		if !v.OK {
			return fmt.Errorf("verification failed: %d problem(s); the first: node %s, %s: %s (%s)", len(v.Problems), v.Problems[0].Node, v.Problems[0].Block, v.Problems[0].Link, v.Problems[0].Detail)
		}
		return nil
	}
	q := client.TrailQuery{User: *user, Record: *record, Owner: *owner}
	if n := btoi(*user != "") + btoi(*record != "") + btoi(*owner != ""); n != 1 {
		return errors.New("name one of --user, --record or --owner")
	}
	for _, t := range []struct {
		s   string
		dst *time.Time
	}{{*from, &q.From}, {*to, &q.To}} {
		if t.s == "" {
			continue
		}
		if *t.dst, err = time.Parse(time.RFC3339, t.s); err != nil {
			return fmt.Errorf("bad time %q: %w", t.s, err)
		}
	}
	switch *format {
	case "fhir":
		q.PageSize = 100
		b, err := rc.TrailFHIR(ctx, q)
		if err != nil {
			return err
		}
		var page struct {
			Total int `json:"total"`
		}
		if json.Unmarshal(b, &page) == nil && page.Total > q.PageSize {
			fmt.Fprintf(os.Stderr, "the trail holds %d entries; this Bundle holds the first %d (narrow it with --from and --to, or follow its next link)\n", page.Total, q.PageSize)
		}
		_, err = stdout.Write(append(b, '\n'))
		return err
	case "json":
		t, err := rc.TrailAll(ctx, q)
		if err != nil {
			return err
		}
		return printJSON(stdout, t)
	}
	return fmt.Errorf("--format is json or fhir")
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
