package abebench

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/medshare/medshare/abe"
)

// Result is the measurement of one scheme at one attribute count.
type Result struct {
	Scheme string
	N      int
	Times  map[string]time.Duration // per Op name: mean time per operation
	Sizes  Sizes
}

// Config controls a run.
type Config struct {
	Schemes []string      // default: msc, tkn20
	Attrs   []int         // default: 2, 4, …, 16
	MinTime time.Duration // per operation and size (default 300ms, at least 3 runs)
	// Rounds is how many times the whole matrix is measured; each cell
	// keeps its best (lowest) mean, so a burst of load from other processes
	// on a shared machine inflates a cell only if it hits every round
	// (default 1).
	Rounds int
	Log    io.Writer // progress; nil for none
}

// Run measures every scheme at every attribute count with its own timing
// loop: one warm-up, then repetitions until MinTime has passed and at least
// three runs were made; a cell's figure is the mean of those repetitions,
// the best over cfg.Rounds rounds.
func Run(cfg Config) ([]Result, error) {
	if len(cfg.Schemes) == 0 {
		cfg.Schemes = []string{abe.MSC, abe.TKN20}
	}
	if len(cfg.Attrs) == 0 {
		cfg.Attrs = []int{2, 4, 6, 8, 10, 12, 14, 16}
	}
	if cfg.MinTime <= 0 {
		cfg.MinTime = 300 * time.Millisecond
	}
	cfg.Rounds = max(cfg.Rounds, 1)
	var out []Result
	var cases []*Case
	for _, name := range cfg.Schemes {
		s, err := abe.New(name)
		if err != nil {
			return nil, err
		}
		for _, n := range cfg.Attrs {
			c, err := NewCase(s, n)
			if err != nil {
				return nil, fmt.Errorf("%s, %d attributes: %w", name, n, err)
			}
			cases = append(cases, c)
			out = append(out, Result{Scheme: name, N: n, Times: map[string]time.Duration{}, Sizes: c.Sizes()})
		}
	}
	for round := range cfg.Rounds {
		for i, c := range cases {
			r := &out[i]
			for _, op := range Ops {
				d, err := measure(c, op, cfg.MinTime)
				if err != nil {
					return nil, fmt.Errorf("%s %s, %d attributes: %w", r.Scheme, op.Name, r.N, err)
				}
				if best, ok := r.Times[op.Name]; !ok || d < best {
					r.Times[op.Name] = d
				}
				if cfg.Log != nil {
					fmt.Fprintf(cfg.Log, "round %d %-6s %-10s n=%-2d %8.2f ms\n", round+1, r.Scheme, op.Name, r.N, ms(d))
				}
			}
		}
	}
	return out, nil
}

func measure(c *Case, op Op, minTime time.Duration) (time.Duration, error) {
	if err := op.Run(c); err != nil { // warm-up (and the hash-to-curve cache)
		return 0, err
	}
	runs := 0
	start := time.Now()
	for runs < 3 || time.Since(start) < minTime {
		if err := op.Run(c); err != nil {
			return 0, err
		}
		runs++
	}
	return time.Since(start) / time.Duration(runs), nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// find returns the result for scheme and n.
func find(rs []Result, scheme string, n int) (Result, bool) {
	for _, r := range rs {
		if r.Scheme == scheme && r.N == n {
			return r, true
		}
	}
	return Result{}, false
}

// Markdown writes the results as a side-by-side table (times in ms, sizes in
// bytes), followed by the ratios the targets are stated in.
func Markdown(w io.Writer, rs []Result) {
	var ns []int
	for _, r := range rs {
		if r.Scheme == rs[0].Scheme {
			ns = append(ns, r.N)
		}
	}
	fmt.Fprintln(w, "| attrs | KeyGen msc | KeyGen tkn20 | Encrypt ×3 msc | Encrypt ×3 tkn20 | Decrypt high msc | Decrypt high tkn20 | Decrypt all msc | Decrypt all tkn20 | ct msc | ct tkn20 | user key msc | user key tkn20 |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	cell := func(r Result, ok bool, op string) string {
		if !ok {
			return "–"
		}
		return fmt.Sprintf("%.1f", ms(r.Times[op]))
	}
	size := func(v int, ok bool) string {
		if !ok {
			return "–"
		}
		return strconv.Itoa(v)
	}
	for _, n := range ns {
		m, mok := find(rs, abe.MSC, n)
		t, tok := find(rs, abe.TKN20, n)
		fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", n,
			cell(m, mok, "KeyGen"), cell(t, tok, "KeyGen"),
			cell(m, mok, "Encrypt"), cell(t, tok, "Encrypt"),
			cell(m, mok, "Decrypt"), cell(t, tok, "Decrypt"),
			cell(m, mok, "DecryptAll"), cell(t, tok, "DecryptAll"),
			size(m.Sizes.Ciphertext, mok), size(t.Sizes.Ciphertext, tok),
			size(m.Sizes.UserKey, mok), size(t.Sizes.UserKey, tok))
	}
	fmt.Fprintln(w)
	for _, sch := range []string{abe.MSC, abe.TKN20} {
		if r, ok := find(rs, sch, ns[0]); ok {
			fmt.Fprintf(w, "Public key, %s: %d bytes. ", sch, r.Sizes.PublicKey)
		}
	}
	fmt.Fprintln(w)
	last := ns[len(ns)-1]
	m, mok := find(rs, abe.MSC, last)
	t, tok := find(rs, abe.TKN20, last)
	if mok && tok {
		smaller := 1 - float64(m.Sizes.Ciphertext)/float64(t.Sizes.Ciphertext)
		faster := ms(t.Times["Encrypt"]) / ms(m.Times["Encrypt"])
		fmt.Fprintf(w, "\nAt %d attributes: msc ciphertext is %.0f %% smaller than three tkn20 ciphertexts (%d vs %d bytes; target ≥ 30 %%: %s) and %.1f× faster to produce (%.1f vs %.1f ms; target ≥ 3×: %s).\n",
			last, 100*smaller, m.Sizes.Ciphertext, t.Sizes.Ciphertext, met(smaller >= 0.30),
			faster, ms(m.Times["Encrypt"]), ms(t.Times["Encrypt"]), met(faster >= 3))
	}
	if mok {
		worst := max(m.Times["KeyGen"], m.Times["Encrypt"], m.Times["Decrypt"], m.Times["DecryptAll"])
		fmt.Fprintf(w, "\nmsc at %d attributes: KeyGen %.1f ms, Encrypt (three levels) %.1f ms, Decrypt (top level) %.1f ms, Decrypt (all levels) %.1f ms; target ≤ %.0f ms each: %s.\n",
			last, ms(m.Times["KeyGen"]), ms(m.Times["Encrypt"]), ms(m.Times["Decrypt"]), ms(m.Times["DecryptAll"]), ms(TargetTime), met(worst <= TargetTime))
	}
}

// TargetTime is the target for each msc operation at 16 attributes on the
// reference 2-core machine.
const TargetTime = 25 * time.Millisecond

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

// LoadAverage returns the 1, 5 and 15 minute load averages from
// /proc/loadavg, or "" where there is none.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	if f := strings.Fields(string(b)); len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return ""
}

// Machine describes the machine the run is on.
func Machine() string {
	model := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	load := ""
	if l := LoadAverage(); l != "" {
		load = ", load average " + l
	}
	return fmt.Sprintf("%s, %d cores (GOMAXPROCS %d), %s/%s, %s%s", model, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version(), load)
}

// Main runs the benchmark matrix, prints a Markdown table to stdout and
// writes the plot. It is the body of `medshare bench abe`:
//
//	-out      PNG file to write (default docs/abe-bench.png; "" for none)
//	-attrs    comma-separated attribute counts (default 2,4,…,16)
//	-schemes  comma-separated schemes (default msc,tkn20)
//	-mintime  minimum measuring time per operation and size (default 300ms)
//	-rounds   measure the matrix this many times, keep each cell's best (default 3)
//	-v        print progress to stderr
func Main(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench abe", flag.ContinueOnError)
	fs.SetOutput(stdout)
	out := fs.String("out", "docs/abe-bench.png", "PNG plot to write (empty: none)")
	attrs := fs.String("attrs", "2,4,6,8,10,12,14,16", "attribute counts")
	schemes := fs.String("schemes", "msc,tkn20", "schemes to measure")
	minTime := fs.Duration("mintime", 300*time.Millisecond, "minimum measuring time per operation and size")
	rounds := fs.Int("rounds", 3, "measure the whole matrix this many times and keep each cell's best")
	verbose := fs.Bool("v", false, "print progress to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("bench abe: unexpected arguments %q", fs.Args())
	}
	if *rounds < 1 {
		return fmt.Errorf("bench abe: -rounds %d, want at least 1", *rounds)
	}
	cfg := Config{Schemes: strings.Split(*schemes, ","), MinTime: *minTime, Rounds: *rounds}
	for _, s := range strings.Split(*attrs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("bench abe: bad attribute count %q", s)
		}
		cfg.Attrs = append(cfg.Attrs, n)
	}
	if *verbose {
		cfg.Log = os.Stderr
	}
	loadBefore := LoadAverage()
	rs, err := Run(cfg)
	if err != nil {
		return err
	}
	if len(rs) == 0 {
		return errors.New("bench abe: nothing measured")
	}
	fmt.Fprintf(stdout, "Machine: %s (at the start: %s); best of %d rounds\n\n", Machine(), loadBefore, cfg.Rounds)
	Markdown(stdout, rs)
	if *out != "" {
		if err := Plot(rs, *out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nPlot written to %s\n", *out)
	}
	return nil
}
