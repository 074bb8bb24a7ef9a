// Package msbench is `medshare bench medshare`: the MeDShare paper's
// Table 1 workload on a whole local system (three nodes, three kubo daemons
// in a private swarm, three gateway processes over HTTPS with mutual TLS;
// package gateway/gwnet). For each row — 5, 10, 15, 20, 30, 40, 50 and 100
// requestors by default — that many researchers each ask hospital 1, at
// once, for a research package of two Synthea patients, and the benchmark
// measures, per requestor, the time from the request (its keys made, the
// request and key binding signed) to the delivered package (received,
// opened with its key, its hash checked): the mean, p99 and the total until
// every requestor holds its package.
//
// Every package is real: the owner's gateway verifies the signatures and
// the requestor's standing, opens both records with its custodian key (once:
// opened records are kept in memory by version), de-identifies them for the
// purpose (prepared documents cached, a fresh package secret applied),
// seals the package with HPKE and records the parent block with a
// provenance Request transaction before answering.
package msbench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/medshare/medshare/gateway"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/client"
	"github.com/medshare/medshare/gateway/gwnet"
	"github.com/medshare/medshare/network/cryptogen"
)

// Paper is the MeDShare paper's Table 1: latency (s) per number of users.
var Paper = map[int]float64{5: 53.40, 10: 145.26, 15: 178.24, 20: 226.78, 30: 351.36, 40: 447.94, 50: 553.81, 100: 1286.73}

// Row is one measured row.
type Row struct {
	Users     int
	OK        int
	Failed    int
	Total     time.Duration   // from the first request to the last package
	Latencies []time.Duration // of the delivered packages, sorted
	Bytes     int             // envelope bytes delivered
	First     string          // the first error
}

// Mean is the mean latency.
func (r Row) Mean() time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	var s time.Duration
	for _, l := range r.Latencies {
		s += l
	}
	return s / time.Duration(len(r.Latencies))
}

// P is the q-quantile latency.
func (r Row) P(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(float64(len(r.Latencies))*q+0.999999) - 1
	return r.Latencies[min(max(i, 0), len(r.Latencies)-1)]
}

// policy lets researchers read the low and medium levels, which a research
// package generalises.
var studyPolicy = &api.RecordPolicy{Low: "role = doctor or role = researcher", Medium: "role = doctor or role = researcher", High: "role = doctor and trust >= 2"}

// Main runs the benchmark (flags in args) and prints the table to stdout.
func Main(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench medshare", flag.ContinueOnError)
	synthea := fs.String("synthea", "../shared/data/fhir/synthea", "folder of the Synthea bundles")
	rowsFlag := fs.String("users", "5,10,15,20,30,40,50,100", "rows: requestors asking at once")
	out := fs.String("out", "docs/medshare-bench.png", "PNG plot (empty: none)")
	procs := fs.Int("procs", max(1, runtime.NumCPU()/3), "GOMAXPROCS of each node and gateway process (0: every core)")
	limit := fs.Duration("duration", 2*time.Minute, "time limit per row")
	keep := fs.Bool("keep", false, "keep the system's directory")
	timeout := fs.Duration("timeout", 30*time.Minute, "time limit for the whole benchmark")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var rows []int
	for _, f := range strings.Split(*rowsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 || n > 1000 {
			return fmt.Errorf("bench medshare: bad row %q (1..1000 users)", f)
		}
		rows = append(rows, n)
	}
	docs, err := twoPatients(*synthea)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "medshare-bench-medshare-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var env []string
	if *procs > 0 {
		env = []string{"GOMAXPROCS=" + strconv.Itoa(*procs)}
	}
	users := slices.Max(rows)
	var researchers []cryptogen.User
	for i := range users {
		researchers = append(researchers, cryptogen.User{Name: fmt.Sprintf("researcher%d", i),
			Attributes: map[string]string{gateway.RoleAttribute: "user", "role": "researcher", "trust": "1"}})
	}
	fmt.Fprintf(os.Stderr, "bench medshare: starting three nodes, three kubo daemons and three gateways with %d researchers…\n", users)
	sys, err := gwnet.Start(ctx, gwnet.Options{Bin: self, Dir: dir, NodeEnv: env, GatewayEnv: env,
		Users:     map[int][]cryptogen.User{0: {{Name: "operator", Attributes: map[string]string{gateway.RoleAttribute: "owner"}}}, 2: researchers},
		Configure: func(_ int, c *gateway.Config) { c.AccessLog = false; c.MaxBodyBytes = 16 << 20 }})
	if err != nil {
		return err
	}
	defer sys.Stop()
	recs, rqs, err := setup(ctx, sys, docs, users)
	if err != nil {
		return err
	}
	// One untimed request opens the records at the owner's gateway and
	// prepares their de-identification, as any earlier request would have.
	t0 := time.Now()
	if _, err := rqs[0].Request(ctx, client.RequestSpec{Name: "warm-up", RecordIDs: recs, Purpose: "HRESCH", Level: "medium"}); err != nil {
		return fmt.Errorf("bench medshare: warm-up request: %w", err)
	}
	cold := time.Since(t0)
	fmt.Fprintf(os.Stderr, "bench medshare: the first request (records opened and prepared) took %s\n", cold.Round(time.Millisecond))
	var results []Row
	for ri, n := range rows {
		r := runRow(ctx, rqs[:n], recs, fmt.Sprintf("row%d-%d", ri, time.Now().UnixNano()), *limit)
		results = append(results, r)
		fmt.Fprintf(os.Stderr, "  %d users: %d delivered, %d failed, total %s, mean %s, p99 %s\n", n, r.OK, r.Failed,
			r.Total.Round(time.Millisecond), r.Mean().Round(time.Millisecond), r.P(0.99).Round(time.Millisecond))
		if r.First != "" {
			fmt.Fprintf(os.Stderr, "    first error: %s\n", r.First)
		}
	}
	Table(stdout, results, *procs)
	fmt.Fprintf(stdout, "\nThe rows follow one untimed request that opened the two records at the owner's gateway (custodian key, IPFS, ABE) and prepared their de-identification: %s alone.\n", sec(cold))
	if *out != "" {
		if err := Plot(results, *out); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "plot: %s\n", *out)
	}
	return nil
}

// setup stores the two patients as hospital 1 and enrols the researchers
// at the attribute authority (untimed).
func setup(ctx context.Context, sys *gwnet.System, docs [][]byte, users int) ([]string, []*client.Requestor, error) {
	op, err := sys.Client(0, 0, "operator")
	if err != nil {
		return nil, nil, err
	}
	now := time.Now().UTC()
	var recs []string
	for _, d := range docs {
		up, err := op.Upload(ctx, &api.UploadRequest{Document: d, Policy: studyPolicy, Access: &api.Access{NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}})
		if err != nil {
			return nil, nil, fmt.Errorf("bench medshare: upload: %w", err)
		}
		recs = append(recs, up.RecordID)
	}
	rqs := make([]*client.Requestor, users)
	errs := make([]error, users)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			name := fmt.Sprintf("researcher%d", i)
			aa, err := sys.Client(0, 2, name)
			if err != nil {
				errs[i] = err
				return
			}
			e, err := aa.Enrol(ctx)
			if err != nil {
				errs[i] = err
				return
			}
			u, _, err := client.UserOf(aa.Identity(), e)
			if err != nil {
				errs[i] = err
				return
			}
			home, err := sys.Client(2, 2, name)
			if err != nil {
				errs[i] = err
				return
			}
			owner := aa // hospital 1's gateway as this researcher
			rqs[i] = &client.Requestor{Home: home, User: u, Gateway: func(string, string) (*client.Client, error) { return owner, nil }}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, fmt.Errorf("bench medshare: enrol: %w", err)
		}
	}
	fmt.Fprintf(os.Stderr, "bench medshare: 2 patients stored, %d researchers enrolled\n", users)
	return recs, rqs, nil
}

// runRow has every requestor ask at once and waits for every package.
func runRow(ctx context.Context, rqs []*client.Requestor, recs []string, tag string, limit time.Duration) Row {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	r := Row{Users: len(rqs)}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, rq := range rqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			t0 := time.Now()
			h, err := rq.Request(ctx, client.RequestSpec{Name: fmt.Sprintf("%s-%d", tag, i), RecordIDs: recs, Purpose: "HRESCH", Level: "medium"})
			d := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				r.Failed++
				if r.First == "" {
					r.First = err.Error()
				}
				return
			}
			r.OK++
			r.Bytes += len(h.Package.Envelope)
			r.Latencies = append(r.Latencies, d)
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	r.Total = time.Since(t0)
	slices.Sort(r.Latencies)
	return r
}

// twoPatients returns the first two Synthea patient bundles by name.
func twoPatients(dir string) ([][]byte, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*_*.json"))
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	if len(files) < 2 {
		return nil, fmt.Errorf("bench medshare: want two Synthea patient bundles in %s (-synthea)", dir)
	}
	var out [][]byte
	for _, f := range files[:2] {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// Table prints the results as Markdown, beside the paper's Table 1.
func Table(w io.Writer, rs []Row, procs int) {
	fmt.Fprintf(w, "## MeDShare benchmark (the paper's Table 1 workload)\n\nEach of N researchers asks hospital 1 at once for a research package of two Synthea patients; latency is from the request (keys made, request signed) to the package delivered, opened and its hash checked. Three nodes, three kubo daemons and three gateways on loopback, HTTPS with mutual TLS; %d CPUs (%s/%s), %s; GOMAXPROCS %d per node and gateway process.\n\n",
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), procs)
	fmt.Fprintln(w, "| users | delivered | failed | mean | p99 | total | packages/s | paper's latency |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rs {
		paper := "–"
		if p, ok := Paper[r.Users]; ok {
			paper = fmt.Sprintf("%.2f s", p)
		}
		fmt.Fprintf(w, "| %d | %d | %d | %s | %s | %s | %.1f | %s |\n", r.Users, r.OK, r.Failed, sec(r.Mean()), sec(r.P(0.99)), sec(r.Total),
			float64(r.OK)/r.Total.Seconds(), paper)
	}
}

func sec(d time.Duration) string { return fmt.Sprintf("%.3f s", d.Seconds()) }
