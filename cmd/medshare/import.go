package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/client"
)

// policyFlags are an upload's policy: a template configured at the
// gateway, or the three levels' conditions with a validity.
type policyFlags struct {
	template, low, medium, high string
	valid                       time.Duration
}

func (p *policyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.template, "template", "", "policy template configured at the gateway (default: the gateway's default, unless a policy is given)")
	fs.StringVar(&p.low, "low", "", "the low level's conditions, e.g. \"role = doctor or role = nurse\"")
	fs.StringVar(&p.medium, "medium", "", "the medium level's extra conditions")
	fs.StringVar(&p.high, "high", "", "the high level's extra conditions")
	fs.DurationVar(&p.valid, "valid", 0, "with a policy: how long the record may be accessed (default 1 year)")
}

// request builds the upload of doc under the policy.
func (p *policyFlags) request(doc []byte, now time.Time) *api.UploadRequest {
	req := &api.UploadRequest{Document: doc, Template: p.template}
	if p.low != "" || p.medium != "" || p.high != "" {
		req.Policy = &api.RecordPolicy{Low: p.low, Medium: p.medium, High: p.high}
		if p.template == "" {
			d := p.valid
			if d == 0 {
				d = 365 * 24 * time.Hour
			}
			now = now.UTC()
			req.Access = &api.Access{NotBefore: now.Add(-time.Minute), NotAfter: now.Add(d)}
		}
	}
	return req
}

// importEntry is one line of the import journal: a file's content, by
// hash, stored as a record.
type importEntry struct {
	SHA256   string     `json:"sha256"`
	File     string     `json:"file"`
	Bytes    int64      `json:"bytes"`
	RecordID string     `json:"recordId"`
	Counts   api.Counts `json:"counts"`
	Gateway  string     `json:"gateway"`
	At       time.Time  `json:"at"`
}

// importJournal remembers what an import stored, so that a re-run skips
// it. Why a local journal and not a hash in the record's metadata: the
// index on main has no field for one (record metadata is the contracts',
// and what it holds is readable by every organisation — a content hash of
// a patient's record is itself a linkable identifier), and the gateway
// chooses record ids. The journal is append-only JSON lines, each synced
// before the next file's outcome is reported; an entry is trusted only
// after the gateway confirms the record still exists, so a journal that
// outlived its network (a new make run) re-uploads instead of skipping.
// A crash between a commit and its journal line can upload that one file
// twice on the re-run (a second record with the same content): at least
// once, never lost.
type importJournal struct {
	mu      sync.Mutex
	f       *os.File
	entries map[string]importEntry
}

func openJournal(path string) (*importJournal, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	j := &importJournal{f: f, entries: map[string]importEntry{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var e importEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.SHA256 == "" || e.RecordID == "" {
			// A line cut short by a crash: ignore it (its file is uploaded
			// again), but say so.
			fmt.Fprintf(os.Stderr, "import: %s line %d is not a journal entry; ignored\n", path, n)
			continue
		}
		j.entries[e.SHA256] = e
	}
	if err := sc.Err(); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return j, nil
}

func (j *importJournal) lookup(sum string) (importEntry, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e, ok := j.entries[sum]
	return e, ok
}

func (j *importJournal) add(e importEntry) error {
	raw, err := json.Marshal(e)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(append(raw, '\n')); err != nil {
		return err
	}
	if err := j.f.Sync(); err != nil {
		return err
	}
	j.entries[e.SHA256] = e
	return nil
}

func (j *importJournal) Close() error { return j.f.Close() }

// importOutcome is what happened to one file.
type importOutcome int

const (
	imported importOutcome = iota
	alreadyStored
	importFailed
)

type importResult struct {
	file    string
	outcome importOutcome
	bytes   int64
	counts  api.Counts
	record  string
	err     error
}

// runImport uploads every *.json file of a folder as a record, several at
// a time, with a progress bar, and ends with a summary table. A re-run
// skips the files already stored (see importJournal). It fails when any
// file failed.
func runImport(args []string, stdout io.Writer) error {
	fs, g := gwCommand("import")
	var pol policyFlags
	pol.register(fs)
	conc := fs.Int("concurrency", 4, "uploads in flight at once")
	journalPath := fs.String("journal", "", "the import journal (default <id>/import-journal.jsonl)")
	progress := fs.String("progress", "auto", "progress bar on standard error: auto (when it is a terminal), always or never")
	pattern := fs.String("pattern", "*.json", "which files of DIR to upload")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: medshare import [flags] DIR")
	}
	if *conc < 1 || *conc > 64 {
		return errors.New("--concurrency must be between 1 and 64")
	}
	files, err := filepath.Glob(filepath.Join(fs.Arg(0), *pattern))
	if err != nil {
		return err
	}
	var total int64
	var work []string
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return err
		}
		if st.Mode().IsRegular() {
			work = append(work, f)
			total += st.Size()
		}
	}
	if len(work) == 0 {
		return fmt.Errorf("no %s files in %s", *pattern, fs.Arg(0))
	}
	sort.Strings(work)
	c, err := g.client()
	if err != nil {
		return err
	}
	if *journalPath == "" {
		*journalPath = filepath.Join(g.id, "import-journal.jsonl")
	}
	j, err := openJournal(*journalPath)
	if err != nil {
		return err
	}
	defer j.Close()

	visible := *progress == "always" || (*progress == "auto" && term.IsTerminal(int(os.Stderr.Fd())))
	if *progress != "always" && *progress != "auto" && *progress != "never" {
		return fmt.Errorf("--progress must be auto, always or never, not %q", *progress)
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetVisibility(visible),
		progressbar.OptionSetDescription(fmt.Sprintf("importing %d files", len(work))),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(os.Stderr) }),
	)
	jobs := make(chan string)
	results := make(chan importResult)
	var wg sync.WaitGroup
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range jobs {
				r := importFile(c, j, &pol, g.timeout, f)
				bar.Add64(r.bytes)
				results <- r
			}
		}()
	}
	go func() {
		for _, f := range work {
			jobs <- f
		}
		close(jobs)
		wg.Wait()
		close(results)
	}()
	var all []importResult
	for r := range results {
		all = append(all, r)
	}
	bar.Finish()
	return printImportSummary(stdout, all, *journalPath)
}

// importFile stores one file unless the journal and the gateway say it is
// stored already.
func importFile(c *client.Client, j *importJournal, pol *policyFlags, timeout time.Duration, path string) importResult {
	r := importResult{file: filepath.Base(path)}
	doc, err := os.ReadFile(path)
	if err != nil {
		r.outcome, r.err = importFailed, err
		return r
	}
	r.bytes = int64(len(doc))
	if !json.Valid(doc) {
		r.outcome, r.err = importFailed, errors.New("not a JSON document")
		return r
	}
	sum := sha256.Sum256(doc)
	key := hex.EncodeToString(sum[:])
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if e, ok := j.lookup(key); ok {
		_, err := c.Record(ctx, e.RecordID)
		var pe *client.ProblemError
		switch {
		case err == nil:
			r.outcome, r.counts, r.record = alreadyStored, e.Counts, e.RecordID
			return r
		case errors.As(err, &pe) && pe.Status == http.StatusNotFound:
			// The journal outlived the record's network: store it again.
		default:
			r.outcome, r.err = importFailed, fmt.Errorf("checking the stored record %s: %w", e.RecordID, err)
			return r
		}
	}
	up, err := c.Upload(ctx, pol.request(doc, time.Now()))
	if err != nil {
		r.outcome, r.err = importFailed, err
		return r
	}
	r.outcome, r.counts, r.record = imported, up.Counts, up.RecordID
	if err := j.add(importEntry{SHA256: key, File: r.file, Bytes: r.bytes, RecordID: up.RecordID, Counts: up.Counts, Gateway: c.URL(), At: time.Now().UTC()}); err != nil {
		// Stored, but a re-run would not know: report it.
		r.outcome, r.err = importFailed, fmt.Errorf("stored as %s, but the journal could not record it: %w", up.RecordID, err)
	}
	return r
}

func printImportSummary(w io.Writer, all []importResult, journal string) error {
	type row struct {
		files, high, medium, low int
		bytes                    int64
	}
	rows := map[importOutcome]*row{imported: {}, alreadyStored: {}, importFailed: {}}
	var total row
	for _, r := range all {
		for _, x := range []*row{rows[r.outcome], &total} {
			x.files++
			x.bytes += r.bytes
			x.high += r.counts.High
			x.medium += r.counts.Medium
			x.low += r.counts.Low
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tRECORDS\tHIGH\tMEDIUM\tLOW\tBYTES\t")
	for _, l := range []struct {
		name string
		r    *row
	}{{"uploaded", rows[imported]}, {"already stored", rows[alreadyStored]}, {"failed", rows[importFailed]}, {"total", &total}} {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t\n", l.name, l.r.files, l.r.high, l.r.medium, l.r.low, humanBytes(l.r.bytes))
	}
	tw.Flush()
	fmt.Fprintln(w, "(elements per level as graded by the gateway; journal:", journal+")")
	var failed []importResult
	for _, r := range all {
		if r.outcome == importFailed {
			failed = append(failed, r)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	slices.SortFunc(failed, func(a, b importResult) int { return strings.Compare(a.file, b.file) })
	fmt.Fprintln(w, "\nFAILED")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range failed {
		fmt.Fprintf(tw, "  %s\t%v\n", r.file, r.err)
	}
	tw.Flush()
	return fmt.Errorf("%d of %d files failed", len(failed), len(all))
}

// humanBytes renders a size for the summary: 1.2 MB.
func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
