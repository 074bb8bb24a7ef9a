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
	"text/tabwriter"
	"time"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/client"
	"github.com/medshare/medshare/gateway/grade"
)

// gwFlags are the flags of the commands that talk to a gateway.
type gwFlags struct {
	url     string
	id      string
	crypto  string
	wallet  string
	timeout time.Duration
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func (g *gwFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&g.url, "gateway", envOr("MEDSHARE_GATEWAY_URL", "https://127.0.0.1:8443"), "your organisation's gateway (env MEDSHARE_GATEWAY_URL)")
	fs.StringVar(&g.id, "id", os.Getenv("MEDSHARE_ID"), "your identity directory (env MEDSHARE_ID)")
	fs.StringVar(&g.crypto, "crypto", envOr("MEDSHARE_CRYPTO", "run/crypto"), "crypto directory whose organisation CAs are trusted (env MEDSHARE_CRYPTO)")
	fs.StringVar(&g.wallet, "wallet", os.Getenv("MEDSHARE_WALLET"), "where your ABE key and credential are kept (default <id>/abe; env MEDSHARE_WALLET)")
	fs.DurationVar(&g.timeout, "timeout", 2*time.Minute, "time limit")
}

// gwCommand returns a gateway command's flag set with the shared flags.
func gwCommand(name string) (*flag.FlagSet, *gwFlags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	g := &gwFlags{}
	g.register(fs)
	return fs, g
}

// connect returns a client of the gateway and a context bounded by
// --timeout.
func (g *gwFlags) connect() (*client.Client, context.Context, context.CancelFunc, error) {
	c, err := g.client()
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
	return c, ctx, cancel, nil
}

func (g *gwFlags) walletDir() string {
	if g.wallet != "" {
		return g.wallet
	}
	return filepath.Join(g.id, "abe")
}

func (g *gwFlags) identity() (*client.Identity, error) {
	if g.id == "" {
		return nil, errors.New("an identity directory is required (--id or MEDSHARE_ID)")
	}
	files, err := filepath.Glob(filepath.Join(g.crypto, "*", "msp", "cacert.pem"))
	if err != nil {
		return nil, err
	}
	return client.LoadIdentity(g.id, files...)
}

func (g *gwFlags) client() (*client.Client, error) {
	id, err := g.identity()
	if err != nil {
		return nil, err
	}
	return client.New(g.url, id)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// runWhoami shows the caller as its gateway sees it.
func runWhoami(args []string, stdout io.Writer) error {
	fs, g := gwCommand("whoami")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, ctx, cancel, err := g.connect()
	if err != nil {
		return err
	}
	defer cancel()
	p, err := c.Whoami(ctx)
	if err != nil {
		return err
	}
	return printJSON(stdout, p)
}

// runEnrol asks the attribute authority's gateway for the caller's ABE key
// and credential and keeps them in the wallet directory (mode 0600).
func runEnrol(args []string, stdout io.Writer) error {
	fs, g := gwCommand("enrol")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, ctx, cancel, err := g.connect()
	if err != nil {
		return err
	}
	defer cancel()
	e, err := c.Enrol(ctx)
	if err != nil {
		return err
	}
	if err := saveEnrolment(g.walletDir(), e); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "enrolled for epoch %d: %s\nkey and credential in %s (keep them secret)\n", e.Epoch, strings.Join(e.Attributes, ", "), g.walletDir())
	return nil
}

// saveEnrolment keeps the authority's answer — ABE key, credential wallet
// and enrolment, all secret — in dir/enrolment.json with mode 0600.
func saveEnrolment(dir string, e *api.Enrolment) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "enrolment.json")
	if err := os.WriteFile(path+".tmp", raw, 0o600); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// loadReader builds the data user's reader from its identity and wallet.
func (g *gwFlags) loadReader() (*client.Reader, error) {
	id, err := g.identity()
	if err != nil {
		return nil, err
	}
	home, err := client.New(g.url, id)
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(filepath.Join(g.walletDir(), "enrolment.json"))
	if err != nil {
		return nil, fmt.Errorf("no ABE key and credential: run medshare enrol first (%w)", err)
	}
	var e api.Enrolment
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("%s: %w", g.walletDir(), err)
	}
	u, uk, err := client.UserOf(id, &e)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", g.walletDir(), err)
	}
	return &client.Reader{Home: home, User: u, Key: uk, Assemble: grade.Assemble}, nil
}

// runUpload uploads a FHIR or JSON document as a new record (or, with
// --record, a new version of one).
func runUpload(args []string, stdout io.Writer) error {
	fs, g := gwCommand("upload")
	record := fs.String("record", "", "upload a new version of this record")
	var pol policyFlags
	pol.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: medshare upload [flags] FILE")
	}
	docBytes, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	req := pol.request(docBytes, time.Now())
	c, ctx, cancel, err := g.connect()
	if err != nil {
		return err
	}
	defer cancel()
	var up *api.Upload
	if *record != "" {
		up, err = c.Update(ctx, *record, req)
	} else {
		up, err = c.Upload(ctx, req)
	}
	if err != nil {
		return err
	}
	return printJSON(stdout, up)
}

// runRecords searches the index, or shows one record.
func runRecords(args []string, stdout io.Writer) error {
	fs, g := gwCommand("records")
	owner := fs.String("owner", "", "owning organisation (MSP id; default your gateway's)")
	typ := fs.String("type", "", "resource type, e.g. Bundle")
	from := fs.String("from", "", "created at or after (RFC 3339)")
	to := fs.String("to", "", "created before (RFC 3339)")
	size := fs.Int("page-size", 20, "records per page (1..100)")
	bookmark := fs.String("bookmark", "", "continue from a previous page")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, ctx, cancel, err := g.connect()
	if err != nil {
		return err
	}
	defer cancel()
	if fs.NArg() == 2 && fs.Arg(0) == "show" {
		r, err := c.Record(ctx, fs.Arg(1))
		if err != nil {
			return err
		}
		return printJSON(stdout, r)
	}
	if fs.NArg() != 0 {
		return errors.New("usage: medshare records [flags] | medshare records [flags] show ID")
	}
	q := client.FindQuery{Owner: *owner, Type: *typ, PageSize: *size, Bookmark: *bookmark}
	for _, t := range []struct {
		s   string
		dst *time.Time
	}{{*from, &q.From}, {*to, &q.To}} {
		if t.s != "" {
			if *t.dst, err = time.Parse(time.RFC3339, t.s); err != nil {
				return fmt.Errorf("a time must be RFC 3339: %w", err)
			}
		}
	}
	p, err := c.Find(ctx, q)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, p)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RECORD\tOWNER\tVERSION\tLEVELS\tCREATED")
	for _, r := range p.Items {
		var ls []string
		for _, l := range r.Levels {
			ls = append(ls, l.Level)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", r.RecordID, r.Owner, r.Version, strings.Join(ls, ","), r.CreatedAt.Format(time.RFC3339))
	}
	tw.Flush()
	if p.Bookmark != "" {
		fmt.Fprintf(stdout, "more: --bookmark %s\n", p.Bookmark)
	}
	return nil
}

// runAccess opens a record: a proof per level to its owner's gateway, the
// granted levels fetched through your own gateway, checked against
// checkCode, decrypted with your ABE key, and written out with only the
// elements you may read.
func runAccess(args []string, stdout io.Writer) error {
	fs, g := gwCommand("access")
	levels := fs.String("levels", "", "levels to request, e.g. low,medium (default: all the record holds)")
	probe := fs.Bool("probe", false, "also send proofs for levels your attributes cannot satisfy (P-TL records the refusals)")
	out := fs.String("out", "", "write the record here (default: standard output)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: medshare access [flags] RECORD-ID")
	}
	r, err := g.loadReader()
	if err != nil {
		return err
	}
	opts := client.OpenOptions{Probe: *probe}
	if *levels != "" {
		for _, s := range strings.Split(*levels, ",") {
			l, err := policy.ParseLevel(strings.TrimSpace(s))
			if err != nil {
				return err
			}
			opts.Levels = append(opts.Levels, l)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
	defer cancel()
	res, err := r.Open(ctx, fs.Arg(0), opts)
	if err != nil {
		return err
	}
	for _, l := range res.Levels {
		switch l.Status {
		case client.Opened:
			fmt.Fprintf(os.Stderr, "%-6s opened (access %s, tx %s)\n", l.Level, l.Grant.AccessID, l.Grant.TxID)
		case client.Refused:
			fmt.Fprintf(os.Stderr, "%-6s refused: %s — %s (violation tx %s)\n", l.Level, l.Reason, l.Detail, l.ViolationID)
		default:
			fmt.Fprintf(os.Stderr, "%-6s not requested: your attributes do not satisfy its policy\n", l.Level)
		}
	}
	if res.Document == nil {
		return errors.New("no level of the record was opened")
	}
	if *out == "" {
		_, err = stdout.Write(append(res.Document, '\n'))
		return err
	}
	return os.WriteFile(*out, res.Document, 0o600)
}

// runViolations lists the violations on the owner's records.
func runViolations(args []string, stdout io.Writer) error {
	fs, g := gwCommand("violations")
	size := fs.Int("page-size", 50, "violations per side chain and page")
	bookmark := fs.String("bookmark", "", "continue from a previous page")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, ctx, cancel, err := g.connect()
	if err != nil {
		return err
	}
	defer cancel()
	p, err := c.Violations(ctx, fs.Arg(0), *size, *bookmark)
	if err != nil {
		return err
	}
	return printJSON(stdout, p)
}

// runRegrant lifts a user's block on a record.
func runRegrant(args []string, stdout io.Writer) error {
	fs, g := gwCommand("regrant")
	user := fs.String("user", "", "the user's user id (as violations and whoami show it)")
	scope := fs.String("scope", "record", "record, or owner (all of your records)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: medshare regrant --user HASH RECORD-ID")
	}
	c, ctx, cancel, err := g.connect()
	if err != nil {
		return err
	}
	defer cancel()
	r, err := c.Regrant(ctx, fs.Arg(0), &api.RegrantRequest{User: *user, Scope: *scope})
	if err != nil {
		return err
	}
	return printJSON(stdout, r)
}

// runRecall re-encrypts a record as a new version and blocks a user.
func runRecall(args []string, stdout io.Writer) error {
	fs, g := gwCommand("recall")
	user := fs.String("user", "", "block this user (user id) as recalled")
	reason := fs.String("reason", "", "why")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: medshare recall [--user HASH] [--reason TEXT] RECORD-ID")
	}
	c, ctx, cancel, err := g.connect()
	if err != nil {
		return err
	}
	defer cancel()
	r, err := c.Recall(ctx, fs.Arg(0), &api.RecallRequest{User: *user, Reason: *reason})
	if err != nil {
		return err
	}
	return printJSON(stdout, r)
}

// runAuthority is the attribute authority operator's command.
func runAuthority(args []string, stdout io.Writer) error {
	verb, rest, err := subcommand(args, "epoch", "params")
	if err != nil {
		return err
	}
	fs, g := gwCommand("authority " + verb)
	if err := fs.Parse(rest); err != nil {
		return err
	}
	c, ctx, cancel, err := g.connect()
	if err != nil {
		return err
	}
	defer cancel()
	if verb == "params" {
		p, err := c.AuthorityParams(ctx)
		if err != nil {
			return err
		}
		return printJSON(stdout, p)
	}
	e, err := c.RotateEpoch(ctx)
	if err != nil {
		return err
	}
	return printJSON(stdout, e)
}
