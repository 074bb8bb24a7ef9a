package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/medshare/medshare/abe/abebench"
	"github.com/medshare/medshare/gateway/gwbench"
	"github.com/medshare/medshare/gateway/msbench"
	"github.com/medshare/medshare/network/client"
	"github.com/medshare/medshare/network/nettest"
	"github.com/medshare/medshare/network/pb"
)

func runBench(args []string, stdout io.Writer) error {
	verb, args, err := subcommand(args, "ledger", "chaincode", "abe", "gateway", "medshare")
	if err != nil {
		return err
	}
	switch verb {
	case "medshare":
		return msbench.Main(args, stdout)
	case "gateway":
		return gwbench.Main(args, stdout)
	case "abe":
		return abebench.Main(args, stdout)
	case "chaincode":
		return benchChaincode(args, stdout)
	default:
		return benchLedger(args, stdout)
	}
}

// benchFlags are the flags every network benchmark shares.
type benchFlags struct {
	conc       string
	txs        int
	duration   time.Duration
	warmup     int
	batch      int
	timeout    time.Duration
	keep       bool
	pprof      bool
	cpuProfile string
	nodeProcs  int
}

func (b *benchFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&b.conc, "concurrency", "50,250", "comma-separated client concurrency levels")
	fs.IntVar(&b.txs, "txs", 20000, "transactions per concurrency level")
	fs.DurationVar(&b.duration, "duration", 60*time.Second, "time limit per concurrency level")
	fs.IntVar(&b.warmup, "warmup", 2000, "transactions before measuring")
	fs.IntVar(&b.batch, "batch-size", 500, "block size limit (transactions)")
	fs.DurationVar(&b.timeout, "batch-timeout", 20*time.Millisecond, "block timeout")
	fs.BoolVar(&b.keep, "keep", false, "keep the network's directory")
	fs.IntVar(&b.nodeProcs, "node-procs", max(1, runtime.NumCPU()/3), "GOMAXPROCS of each node process: the three nodes share this machine's cores (0: Go's default, every core)")
	fs.BoolVar(&b.pprof, "pprof", false, "serve each node's pprof profiles on a loopback port (printed on stderr)")
	fs.StringVar(&b.cpuProfile, "cpuprofile", "", "write the load client's CPU profile (this process, not the nodes) to this file")
}

func (b *benchFlags) levels() ([]int, error) {
	var out []int
	for _, s := range strings.Split(b.conc, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || c <= 0 {
			return nil, fmt.Errorf("bad concurrency %q", s)
		}
		out = append(out, c)
	}
	return out, nil
}

// startBenchNetwork starts a three-node network of this binary in a
// temporary directory.
func (b *benchFlags) startNetwork(ctx context.Context, opts nettest.Options) (*nettest.Network, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "medshare-bench-")
	if err != nil {
		return nil, nil, err
	}
	opts.Bin, opts.Dir, opts.LogLevel = self, dir, "warn"
	opts.Batch = &pb.BatchConfig{MaxMessageCount: uint32(b.batch), TimeoutMillis: b.timeout.Milliseconds()}
	opts.Debug = b.pprof
	setServiceGC()
	if b.nodeProcs > 0 {
		opts.Env = append(opts.Env, fmt.Sprintf("GOMAXPROCS=%d", b.nodeProcs))
	}
	n, err := nettest.Start(ctx, opts)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	if b.pprof {
		for _, nd := range n.Nodes {
			fmt.Fprintf(os.Stderr, "%s profiles: http://%s/debug/pprof/\n", nd.ID, nd.Debug)
		}
	}
	stopProfile := func() {}
	if b.cpuProfile != "" {
		f, err := os.Create(b.cpuProfile)
		if err == nil {
			if err = pprof.StartCPUProfile(f); err != nil {
				f.Close()
			}
		}
		if err != nil {
			n.Stop()
			os.RemoveAll(dir)
			return nil, nil, fmt.Errorf("bench: cpu profile: %w", err)
		}
		stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
	}
	cleanup := func() {
		stopProfile()
		n.Stop()
		if !b.keep {
			os.RemoveAll(dir)
		}
	}
	return n, cleanup, nil
}

func benchHeader(w io.Writer, title string, b *benchFlags) {
	fmt.Fprintf(w, "## %s\n\n", title)
	procs := "every core"
	if b.nodeProcs > 0 {
		procs = fmt.Sprintf("GOMAXPROCS=%d", b.nodeProcs)
	}
	fmt.Fprintf(w, "3 node processes on loopback (one per organisation, mutual TLS, Raft, pebble with synced commits; %s each), %d CPUs (%s/%s), %s; blocks of at most %d transactions or %s.\n\n",
		procs, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), b.batch, b.timeout)
	fmt.Fprintln(w, "| concurrency | committed | failed | tx/s | p50 | p95 | p99 | max | CPU/tx |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
}

// benchLedger measures committed transactions per second and commit latency
// of the ledger itself, with the minimal kv chaincode.
func benchLedger(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench ledger", flag.ContinueOnError)
	var b benchFlags
	b.register(fs)
	channelName := fs.String("channel", "main", "channel to load")
	if err := fs.Parse(args); err != nil {
		return err
	}
	levels, err := b.levels()
	if err != nil {
		return err
	}
	ctx := context.Background()
	n, cleanup, err := b.startNetwork(ctx, nettest.Options{Channels: []string{*channelName}})
	if err != nil {
		return err
	}
	defer cleanup()
	put := func(ctx context.Context, gw *client.Gateway, c, k int) error {
		_, err := gw.GetNetwork(*channelName).GetContract("kv").SubmitTransaction("Put", fmt.Sprintf("bench-%d-%d-%d", time.Now().UnixNano(), c, k), "0123456789abcdef0123456789abcdef")
		return err
	}
	user := func(int) string { return "client" }
	if b.warmup > 0 {
		if _, err := n.Load(ctx, 50, b.warmup, b.duration, user, put); err != nil {
			return err
		}
	}
	benchHeader(stdout, "Ledger: kv Put (one write per transaction), submit → commit", &b)
	for _, c := range levels {
		loadNote()
		r, err := n.Load(ctx, c, b.txs, b.duration, user, put)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, r)
		if r.FirstError != nil {
			fmt.Fprintf(os.Stderr, "concurrency %d: first error: %v\n", c, r.FirstError)
		}
	}
	return nil
}
