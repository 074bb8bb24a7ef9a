// Package gwbench is `medshare bench gateway`: the gateways' throughput and
// latency over HTTPS with mutual TLS on a whole local system (three nodes,
// three kubo daemons in a private swarm, three gateway processes; package
// gateway/gwnet), for four workloads:
//
//   - full uploads of the Synthea bundles (grading, AES, MSC-CP-ABE, IPFS,
//     Tx_sto and policy per level, index): records/s and MB/s;
//   - uploads of small pre-sealed records (IPFS add, Tx_sto, index: the
//     paper's "Transaction");
//   - index queries (a record's metadata through another organisation's
//     gateway);
//   - accesses (a fresh signed proof → P-TL's Tx_acc → u, m).
//
// Every run is bounded in requests and time; it prints a Markdown table and
// draws a PNG.
package gwbench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
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
	"sync/atomic"
	"time"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/gateway"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/client"
	"github.com/medshare/medshare/gateway/gwnet"
	"github.com/medshare/medshare/network/cryptogen"
)

// Result is one measured run.
type Result struct {
	Workload    string
	Concurrency int
	OK, Failed  int
	Bytes       int64
	Elapsed     time.Duration
	Latencies   []time.Duration // of the successful requests, sorted
	FirstError  string
	// CPU is the CPU time (user + system) each kind of process used from
	// the run's start until the system settled after it (Kinds; a kind is
	// missing where /proc could not tell).
	CPU map[string]time.Duration
	// Settle is how long the system stayed busy after the run (the work
	// it left behind: replication pins, compactions).
	Settle time.Duration
}

// CPUPerOp returns kind's CPU time per successful request, or false when
// it is unknown.
func (r Result) CPUPerOp(kind string) (time.Duration, bool) {
	d, ok := r.CPU[kind]
	if !ok || r.OK == 0 {
		return 0, false
	}
	return d / time.Duration(r.OK), true
}

// Rate is requests per second.
func (r Result) Rate() float64 { return float64(r.OK) / r.Elapsed.Seconds() }

// Avg is the mean latency.
func (r Result) Avg() time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	var s time.Duration
	for _, l := range r.Latencies {
		s += l
	}
	return s / time.Duration(len(r.Latencies))
}

// P returns the q-quantile latency (0 < q ≤ 1).
func (r Result) P(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(float64(len(r.Latencies))*q+0.999999) - 1
	return r.Latencies[min(max(i, 0), len(r.Latencies)-1)]
}

// warm opens the connections a run at concurrency conc uses before it is
// timed: conc requests at once (op, with its worker's client), untimed.
// The runs measure a gateway serving its clients, not TLS handshakes of
// clients arriving all at once (500 of them take hospital 2's single-core
// gateway about a second).
func warm(ctx context.Context, conc, total int, op func(ctx context.Context, i int) error) {
	if total == 0 {
		return
	}
	conc = min(conc, total)
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if op(ctx, i) != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	fmt.Fprintf(os.Stderr, "  (%d connections warmed in %s, %d failed)\n", conc, time.Since(start).Round(time.Millisecond), failed.Load())
}

// run runs op total times from conc workers, for at most d.
func run(ctx context.Context, workload string, conc, total int, d time.Duration, op func(ctx context.Context, i int) (int64, error)) Result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var next atomic.Int64
	var mu sync.Mutex
	res := Result{Workload: workload, Concurrency: conc}
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			var ok, failed int
			var bytes int64
			first := ""
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= total {
					break
				}
				t0 := time.Now()
				n, err := op(ctx, i)
				if err != nil {
					if ctx.Err() != nil {
						break // the time limit, not the system
					}
					failed++
					if first == "" {
						first = err.Error()
					}
					continue
				}
				ok++
				bytes += n
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.OK += ok
			res.Failed += failed
			res.Bytes += bytes
			res.Latencies = append(res.Latencies, lat...)
			if res.FirstError == "" {
				res.FirstError = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	slices.Sort(res.Latencies)
	return res
}

func levels(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad concurrency %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// Main runs the benchmark (flags in args) and prints the table to stdout.
func Main(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench gateway", flag.ContinueOnError)
	synthea := fs.String("synthea", "../shared/data/fhir/synthea", "folder of the Synthea bundles")
	uploads := fs.Int("uploads", 60, "full uploads (the six bundles in turn)")
	upConc := fs.String("upload-concurrency", "8", "full-upload concurrency levels")
	sealed := fs.Int("sealed", 2000, "pre-sealed uploads per concurrency level")
	sealedConc := fs.String("sealed-concurrency", "50,250", "pre-sealed upload concurrency levels")
	queries := fs.Int("queries", 20000, "index queries per concurrency level")
	queryConc := fs.String("query-concurrency", "100,500", "index query concurrency levels")
	accesses := fs.Int("accesses", 5000, "accesses per concurrency level")
	accessConc := fs.String("access-concurrency", "50,450", "access concurrency levels")
	limit := fs.Duration("duration", 90*time.Second, "time limit per run")
	out := fs.String("out", "docs/gateway-bench.png", "PNG plot (empty: none)")
	procs := fs.Int("procs", max(1, runtime.NumCPU()/3), "GOMAXPROCS of each node and gateway process (0: every core)")
	keep := fs.Bool("keep", false, "keep the system's directory")
	timeout := fs.Duration("timeout", 30*time.Minute, "time limit for the whole benchmark")
	gogc := fs.Int("gateway-gogc", 400, "GOGC of each gateway process (0: the runtime's default, 100)")
	profiles := fs.Bool("pprof", false, "serve each gateway's pprof profiles on a loopback port (printed on stderr)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	conc := map[string][]int{}
	for name, s := range map[string]string{"upload": *upConc, "sealed": *sealedConc, "query": *queryConc, "access": *accessConc} {
		l, err := levels(s)
		if err != nil {
			return err
		}
		conc[name] = l
	}
	docs, err := readBundles(*synthea)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "medshare-bench-gateway-")
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
	gwEnv := slices.Clone(env)
	if *gogc > 0 {
		gwEnv = append(gwEnv, "GOGC="+strconv.Itoa(*gogc))
	}
	if *profiles {
		gwEnv = append(gwEnv, "MEDSHARE_PPROF_ADDRESS=127.0.0.1:0")
	}
	const users = 16
	var doctors []cryptogen.User
	for i := range users {
		doctors = append(doctors, cryptogen.User{Name: fmt.Sprintf("doctor%d", i),
			Attributes: map[string]string{gateway.RoleAttribute: "user", "role": "doctor", "trust": "2"}})
	}
	owner := map[string]string{gateway.RoleAttribute: "owner"}
	fmt.Fprintln(os.Stderr, "bench gateway: starting three nodes, three kubo daemons and three gateways…")
	// No rate limit: the load's proofs come from a few users.
	mon := txbuild.DefaultMonitor
	mon.RateLimit = 0
	sys, err := gwnet.Start(ctx, gwnet.Options{Bin: self, Dir: dir, NodeEnv: env, GatewayEnv: gwEnv, Monitor: &mon,
		Users:     map[int][]cryptogen.User{0: {{Name: "operator", Attributes: owner}}, 1: doctors},
		Configure: func(_ int, c *gateway.Config) { c.AccessLog = false; c.MaxBodyBytes = 16 << 20 }})
	if err != nil {
		return err
	}
	defer sys.Stop()
	if *profiles {
		for i := range sys.URLs {
			for _, l := range strings.Split(sys.GatewayLog(i), "\n") {
				if strings.HasPrefix(l, "pprof: ") {
					fmt.Fprintf(os.Stderr, "gateway %d profiles: %s\n", i, strings.TrimPrefix(l, "pprof: "))
				}
			}
		}
	}
	b := &bench{sys: sys, ctx: ctx}
	if err := b.setup(users); err != nil {
		return err
	}
	var results []Result
	// Each run's CPU time per process kind, read from /proc around it: the
	// inputs (sealed records, proofs) are made before the first reading.
	pids := sys.Pids()
	const settleLimit = time.Minute
	if d := settle(ctx, pids, settleLimit); d > time.Second {
		fmt.Fprintf(os.Stderr, "bench gateway: settled after %s\n", d.Round(time.Second))
	}
	// What the idle system uses (Raft's ticks, libp2p, the followers).
	idle := sampleCPU(pids)
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
	}
	var idleCPU time.Duration
	for _, d := range cpuDelta(idle, sampleCPU(pids)) {
		idleCPU += d
	}
	fmt.Fprintf(os.Stderr, "bench gateway: the idle system uses %.2f cores\n", idleCPU.Seconds()/5)
	measure := func(f func() Result) Result {
		before := sampleCPU(pids)
		r := f()
		r.Settle = settle(ctx, pids, settleLimit)
		r.CPU = cpuDelta(before, sampleCPU(pids))
		return r
	}
	report := func(r Result) {
		if r.OK+r.Failed == 0 && r.FirstError == "" {
			return // a workload of 0 requests (-uploads 0…): no row
		}
		results = append(results, r)
		fmt.Fprintf(os.Stderr, "  %s at %d: %d ok, %d failed, %.1f req/s, p99 %s; settled %s after it\n", r.Workload, r.Concurrency, r.OK, r.Failed, r.Rate(),
			r.P(0.99).Round(time.Millisecond), r.Settle.Round(time.Second))
		if r.FirstError != "" {
			fmt.Fprintf(os.Stderr, "    first error: %s\n", r.FirstError)
		}
	}
	// 1. Full uploads.
	for _, c := range conc["upload"] {
		warm(ctx, c, *uploads, func(ctx context.Context, i int) error { _, err := b.op.Whoami(ctx); return err })
		report(measure(func() Result {
			return run(ctx, "full upload", c, *uploads, *limit, func(ctx context.Context, i int) (int64, error) {
				d := docs[i%len(docs)]
				_, err := b.op.Upload(ctx, &api.UploadRequest{Document: d, Policy: benchPolicy, Access: b.terms})
				return int64(len(d)), err
			})
		}))
	}
	// 2. Pre-sealed uploads.
	for _, c := range conc["sealed"] {
		ups, err := b.sealedUploads(*sealed)
		if err != nil {
			return err
		}
		warm(ctx, c, len(ups), func(ctx context.Context, i int) error { _, err := b.op.Whoami(ctx); return err })
		report(measure(func() Result {
			return run(ctx, "pre-sealed upload", c, len(ups), *limit, func(ctx context.Context, i int) (int64, error) {
				_, err := b.op.UploadSealed(ctx, ups[i])
				return 0, err
			})
		}))
	}
	// 3. Index queries through hospital 2's gateway.
	for _, c := range conc["query"] {
		warm(ctx, c, *queries, func(ctx context.Context, i int) error { _, err := b.readers[i%len(b.readers)].Whoami(ctx); return err })
		report(measure(func() Result {
			return run(ctx, "index query", c, *queries, *limit, func(ctx context.Context, i int) (int64, error) {
				_, err := b.readers[i%len(b.readers)].Record(ctx, b.ids[i%len(b.ids)])
				return 0, err
			})
		}))
	}
	// 4. Accesses at hospital 1's gateway, fresh proofs made before each
	// run (signing is the user's work, not the gateway's).
	for _, c := range conc["access"] {
		proofs, err := b.proofs(*accesses)
		if err != nil {
			return err
		}
		warm(ctx, c, len(proofs), func(ctx context.Context, i int) error { _, err := b.owners[i%len(b.owners)].Whoami(ctx); return err })
		report(measure(func() Result {
			return run(ctx, "access", c, len(proofs), *limit, func(ctx context.Context, i int) (int64, error) {
				p := proofs[i]
				g, err := b.owners[i%len(b.owners)].Access(ctx, p.recordID, &api.AccessRequest{Level: "low", Proof: p.proof})
				if err == nil && len(g.Keys) == 0 {
					err = errors.New("a grant without m")
				}
				return 0, err
			})
		}))
	}
	Table(stdout, results, *procs, *gogc)
	if *out != "" {
		if err := Plot(results, *out); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "plot: %s\n", *out)
	}
	return nil
}

// benchPolicy is the full uploads' policy.
var benchPolicy = &api.RecordPolicy{Low: "role = doctor or role = nurse", Medium: "role = doctor", High: "role = doctor and trust >= 2"}

type bench struct {
	sys     *gwnet.System
	ctx     context.Context
	op      *client.Client
	terms   *api.Access
	sealer  *client.Sealer
	users   []*txbuild.User
	owners  []*client.Client // hospital 1's gateway, as each doctor
	readers []*client.Client // hospital 2's gateway, as each doctor
	ids     []string         // records with a policy: queried and accessed
	prefix  string           // hospital 1's record ids start with it
	levels  map[string]*api.Level
}

func (b *bench) setup(users int) error {
	var err error
	if b.op, err = b.sys.Client(0, 0, "operator"); err != nil {
		return err
	}
	who, err := b.op.Whoami(b.ctx)
	if err != nil {
		return err
	}
	b.prefix = who.RecordPrefix
	now := time.Now().UTC()
	b.terms = &api.Access{NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), MaxProofAge: "10m"}
	raw, err := b.op.AuthorityParams(b.ctx)
	if err != nil {
		return err
	}
	params, err := gateway.ParamsOf(raw)
	if err != nil {
		return err
	}
	tk, err := b.op.AuthorityTagKey(b.ctx)
	if err != nil {
		return err
	}
	b.sealer = &client.Sealer{Scheme: params.Scheme, PublicKey: params.PublicKey, Schema: params.Schema, Epoch: params.Epoch}
	copy(b.sealer.TagKey[:], tk.Key)
	for i := range users {
		name := fmt.Sprintf("doctor%d", i)
		aa, err := b.sys.Client(0, 1, name)
		if err != nil {
			return err
		}
		e, err := aa.Enrol(b.ctx)
		if err != nil {
			return err
		}
		u, _, err := client.UserOf(aa.Identity(), e)
		if err != nil {
			return err
		}
		b.users = append(b.users, u)
		b.owners = append(b.owners, aa)
		r, err := b.sys.Client(1, 1, name)
		if err != nil {
			return err
		}
		b.readers = append(b.readers, r)
	}
	// 64 small records with a policy, for queries and accesses.
	rp, err := policy.ParseRecord("low: role = doctor")
	if err != nil {
		return err
	}
	b.levels = map[string]*api.Level{}
	for i := range 64 {
		id := b.prefix + fmt.Sprintf("json.bench%02d%s", i, randHex(6))
		up, err := b.sealer.Seal(id, rp, [3][]byte{[]byte(`{"observation":"bench"}`)})
		if err != nil {
			return err
		}
		up.Access = b.terms
		if _, err := b.op.UploadSealed(b.ctx, up); err != nil {
			return err
		}
		b.ids = append(b.ids, id)
	}
	for _, id := range b.ids {
		lv, err := b.readers[0].Level(b.ctx, id, "low")
		if err != nil {
			return err
		}
		b.levels[id] = lv
	}
	fmt.Fprintf(os.Stderr, "bench gateway: %d users enrolled, %d records with policies stored\n", users, len(b.ids))
	return nil
}

func randHex(n int) string {
	buf := make([]byte, n)
	rand.Read(buf)
	return hex.EncodeToString(buf)
}

// sealedUploads prepares n pre-sealed records of ~1 KiB at the low level,
// without a policy (the paper's Transaction: IPFS add, Tx_sto, index). One
// ABE encryption is made and each record gets its own gate key, m and
// object, which is all the gateway checks and stores.
func (b *bench) sealedUploads(n int) ([]*api.SealedUpload, error) {
	rp, err := policy.ParseRecord("low: role = doctor")
	if err != nil {
		return nil, err
	}
	payload := []byte(`{"observation":"` + strings.Repeat("x", 1000) + `"}`)
	var out []*api.SealedUpload
	for range n {
		id := b.prefix + "json.sealed" + randHex(10)
		up, err := b.sealer.Seal(id, rp, [3][]byte{payload})
		if err != nil {
			return nil, err
		}
		for i := range up.Levels {
			up.Levels[i].HiddenPolicy = nil
		}
		out = append(out, up)
	}
	return out, nil
}

type proofItem struct {
	recordID string
	proof    *ptl.Proof
}

// proofs makes n fresh proofs, spread over the users and records.
func (b *bench) proofs(n int) ([]proofItem, error) {
	out := make([]proofItem, 0, n)
	now := time.Now()
	for i := range n {
		id := b.ids[i%len(b.ids)]
		lv := b.levels[id]
		pol := &ptl.Policy{RecordID: id, Version: lv.PolicyVersion}
		pol.HiddenPolicy = lv.HiddenPolicy
		p, err := b.users[i%len(b.users)].ProofFor(rand.Reader, lv.Channel, pol, lv.Address, now)
		if err != nil {
			return nil, err
		}
		out = append(out, proofItem{recordID: id, proof: p})
	}
	return out, nil
}

func readBundles(dir string) ([][]byte, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*_*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("bench gateway: no Synthea bundles in %s (-synthea)", dir)
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// Table prints the results as Markdown; procs and gogc are the processes'
// GOMAXPROCS and the gateways' GOGC (0: the defaults).
func Table(w io.Writer, rs []Result, procs, gogc int) {
	gc := "the default GOGC"
	if gogc > 0 {
		gc = fmt.Sprintf("GOGC %d per gateway process", gogc)
	}
	fmt.Fprintf(w, "## Gateway benchmark\n\nThree nodes, three kubo daemons and three gateways on loopback, HTTPS with mutual TLS; %d CPUs (%s/%s), %s; GOMAXPROCS %d per node and gateway process, %s.\n\n",
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), procs, gc)
	fmt.Fprintln(w, "| workload | concurrency | ok | failed | req/s | MB/s | avg | p50 | p99 | max |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rs {
		mbs := "–"
		if r.Bytes > 0 {
			mbs = fmt.Sprintf("%.2f", float64(r.Bytes)/1e6/r.Elapsed.Seconds())
		}
		fmt.Fprintf(w, "| %s | %d | %d | %d | %.1f | %s | %s | %s | %s | %s |\n", r.Workload, r.Concurrency, r.OK, r.Failed, r.Rate(), mbs,
			ms(r.Avg()), ms(r.P(0.5)), ms(r.P(0.99)), ms(r.P(1)))
	}
	fmt.Fprintf(w, "\n### Where the time goes: CPU per operation\n\nCPU time (user + system, from /proc/<pid>/stat) each kind of process used from the run's start until the system was quiet again (below %.2f cores: the work a run leaves behind, such as the followers' pins and compactions, counts to it), divided by its successful requests; busy is all of it over that time, in cores (of %d); settle is how long the system stayed busy after the run.\n", Quiet, runtime.NumCPU())
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| workload | concurrency | nodes | kubo | gateways | client | total | busy | settle |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %d |", r.Workload, r.Concurrency)
		var total time.Duration
		for _, k := range Kinds {
			d, ok := r.CPUPerOp(k)
			if !ok {
				fmt.Fprint(w, " – |")
				continue
			}
			total += d
			fmt.Fprintf(w, " %s |", cpuMS(d))
		}
		var all time.Duration
		for _, d := range r.CPU {
			all += d
		}
		busy := "–"
		if r.Elapsed > 0 && len(r.CPU) > 0 {
			busy = fmt.Sprintf("%.2f", all.Seconds()/(r.Elapsed+r.Settle).Seconds())
		}
		fmt.Fprintf(w, " %s | %s | %.0f s |\n", cpuMS(total), busy, r.Settle.Seconds())
	}
}

// cpuMS formats a CPU time per operation in milliseconds.
func cpuMS(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
