package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/medshare/medshare/internal/kubo/kubotest"
	"github.com/medshare/medshare/network/nettest"
)

// repoRoot is the repository's root, seen from this package's directory.
const repoRoot = "../.."

// localSys is a system started by `medshare network run`, as make run
// starts it, but on free ports and in a test's folder.
type localSys struct {
	t    *testing.T
	cmd  *exec.Cmd
	dir  string // the system's directory (--dir)
	out  *syncBuffer
	done chan struct{}
	info localSystem
}

// syncBuffer is a bytes.Buffer safe for a process's output and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startSystem runs `medshare network run --free-ports --dir dir` in its own
// process group (a terminal's Ctrl-C reaches a whole group) and waits until
// it is ready. The system is stopped at the test's end if the test has not.
func startSystem(t *testing.T, dir string) *localSys {
	t.Helper()
	kb := kubotest.Binary(t) // skipped without kubo, failed in CI
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	s := &localSys{t: t, dir: dir, out: &syncBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "network", "run", "--free-ports", "--dir", dir, "--log-level", "warn")
	s.cmd.Dir = root
	s.cmd.Env = append(os.Environ(), "MEDSHARE_KUBO="+kb)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
			<-s.done
		}
	})
	deadline := time.After(8 * time.Minute)
	for {
		if _, err := os.Stat(filepath.Join(dir, readyFile)); err == nil {
			break
		}
		select {
		case <-s.done:
			t.Fatalf("medshare network run exited before it was ready:\n%s", s.out.String())
		case <-deadline:
			t.Fatalf("medshare network run not ready after 8 minutes:\n%s", s.out.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, systemFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &s.info); err != nil {
		t.Fatal(err)
	}
	return s
}

// interrupt sends SIGINT to the system's whole process group, as a
// terminal's Ctrl-C does, and checks that every process ended and the
// directory is gone.
func (s *localSys) interrupt() { s.stopWith(syscall.SIGINT) }

// stopWith sends sig to the system's whole process group (SIGINT: Ctrl-C;
// SIGHUP: the terminal closed) and checks that every process ended and the
// directory is gone.
func (s *localSys) stopWith(sig syscall.Signal) {
	t := s.t
	t.Helper()
	pgid := s.cmd.Process.Pid
	if err := syscall.Kill(-pgid, sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("medshare network run still runs 2 minutes after %v:\n%s", sig, s.out.String())
	}
	// Every process of the group must be gone: the kernel says so with
	// ESRCH once the group is empty.
	for i := 0; ; i++ {
		err := syscall.Kill(-pgid, 0)
		if errors.Is(err, syscall.ESRCH) {
			break
		}
		if i == 100 {
			t.Fatalf("processes of the system's group still run after it stopped (kill -0: %v)", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := os.Stat(s.dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s is still there after the system stopped (%v)", s.dir, err)
	}
	if !strings.Contains(s.out.String(), "==> stopped; removed") {
		t.Fatalf("no stop message:\n%s", s.out.String())
	}
}

// block is a fenced block of the README.
type block struct {
	info string // the fence's info string, e.g. "sh walkthrough"
	text string
	line int // the README line of its first fence
}

// readmeBlocks returns the README's fenced blocks, in order.
func readmeBlocks(t *testing.T) []block {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []block
	var cur *block
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &block{info: strings.TrimSpace(strings.TrimPrefix(line, "```")), line: n}
		case cur != nil && strings.TrimSpace(line) == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("README.md: the block opened at line %d is never closed", cur.line)
	}
	return out
}

// step is a walkthrough command block and the output lines it promises.
type step struct {
	block
	want []string
}

// walkthroughSteps extracts the walkthrough: every "sh walkthrough" block,
// each with the "text walkthrough-output" block that directly follows it.
func walkthroughSteps(t *testing.T) []step {
	t.Helper()
	var steps []step
	blocks := readmeBlocks(t)
	for i, b := range blocks {
		switch b.info {
		case "sh walkthrough":
			steps = append(steps, step{block: b})
		case "text walkthrough-output":
			if i == 0 || blocks[i-1].info != "sh walkthrough" {
				t.Fatalf("README.md line %d: an output block must follow a command block", b.line)
			}
			for _, l := range strings.Split(b.text, "\n") {
				if l = strings.TrimSpace(l); l != "" {
					steps[len(steps)-1].want = append(steps[len(steps)-1].want, l)
				}
			}
		}
	}
	return steps
}

// matchLines checks that each wanted line appears in out, in order, on
// lines of its own; "…" in a wanted line matches anything.
func matchLines(out string, want []string) error {
	lines := strings.Split(out, "\n")
	pos := 0
next:
	for _, w := range want {
		frags := strings.Split(w, "…")
		for ; pos < len(lines); pos++ {
			rest, ok := lines[pos], true
			for _, f := range frags {
				i := strings.Index(rest, strings.TrimSpace(f))
				if i < 0 {
					ok = false
					break
				}
				rest = rest[i+len(strings.TrimSpace(f)):]
			}
			if ok {
				pos++
				continue next
			}
		}
		return fmt.Errorf("no line matches %q (after the earlier ones)", w)
	}
	return nil
}

func TestMatchLines(t *testing.T) {
	out := "a b c\nRECORD   OWNER  X\nhigh   opened (access 1)\nlow    opened\n"
	for _, tc := range []struct {
		want []string
		ok   bool
	}{
		{[]string{"high   opened", "low    opened"}, true},
		{[]string{"RECORD … OWNER", "low"}, true},
		{[]string{"low    opened", "high   opened"}, false}, // order matters
		{[]string{"OWNER … RECORD"}, false},                 // so does order within a line
		{[]string{"medium opened"}, false},
	} {
		if err := matchLines(out, tc.want); (err == nil) != tc.ok {
			t.Errorf("matchLines(%q) = %v, want ok=%v", tc.want, err, tc.ok)
		}
	}
}

// TestWalkthrough runs exactly the README's walkthrough — every "sh
// walkthrough" block, in order, in one bash session at a copy of the
// repository's root — on a fresh system started the way make run starts
// it, and checks the outcomes the README promises ("text
// walkthrough-output" blocks). Then it interrupts the system as a
// terminal's Ctrl-C would and checks that nothing is left.
func TestWalkthrough(t *testing.T) {
	steps := walkthroughSteps(t)
	if len(steps) < 5 {
		t.Fatalf("the README has %d walkthrough blocks; want the upload, the search, the accesses, the comparison and the violations", len(steps))
	}
	if got := strings.TrimSpace(steps[0].text); got != walkthroughStart {
		t.Fatalf("the walkthrough's first block is not what make run tells a newcomer to type:\nREADME:\n%s\nmake run prints:\n%s", got, walkthroughStart)
	}
	for _, tool := range []string{"bash", "jq", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the walkthrough needs %s: %v", tool, err)
		}
	}
	shared, err := filepath.Abs(filepath.Join(repoRoot, "..", "shared"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(shared, "data", "fhir", "synthea")); err != nil {
		t.Fatalf("../shared is not beside the repository: %v", err)
	}
	// A workspace shaped like a clone: repo/bin, repo/run, and shared beside it.
	ws := t.TempDir()
	repo := filepath.Join(ws, "repo")
	kb := kubotest.Binary(t)
	for _, l := range [][2]string{{bin, "repo/bin/medshare"}, {kb, "repo/bin/ipfs"}, {shared, "shared"}} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(ws, l[1])), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(l[0], filepath.Join(ws, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	sys := startSystem(t, filepath.Join(repo, "run"))
	banner := sys.out.String()
	for _, l := range strings.Split(walkthroughStart, "\n") {
		if !strings.Contains(banner, "  "+l+"\n") {
			t.Fatalf("make run's banner does not show the walkthrough's first command %q:\n%s", l, banner)
		}
	}

	// One bash session; a marker line before each block splits the output.
	const marker = "@@walkthrough-step "
	var script strings.Builder
	script.WriteString("set -euo pipefail\nexec 2>&1\n")
	for i, s := range steps {
		fmt.Fprintf(&script, "echo '%s%d'\n%s", marker, i, s.text)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = repo
	out, runErr := cmd.CombinedOutput()
	parts := strings.Split(string(out), marker)
	outputs := map[int]string{}
	for _, p := range parts[1:] {
		var i int
		if _, err := fmt.Sscanf(p, "%d", &i); err == nil {
			_, body, _ := strings.Cut(p, "\n")
			outputs[i] = body
		}
	}
	if runErr != nil {
		last := len(outputs) - 1
		t.Fatalf("the walkthrough failed in the block at README.md line %d: %v\n--- block:\n%s--- output:\n%s", steps[last].line, runErr, steps[last].text, outputs[last])
	}
	for i, s := range steps {
		if err := matchLines(outputs[i], s.want); err != nil {
			t.Errorf("README.md line %d: %v\n--- block:\n%s--- output:\n%s", s.line, err, s.text, outputs[i])
		}
	}
	if testing.Verbose() {
		t.Logf("walkthrough output:\n%s", out)
	}
	sys.interrupt()
}

var bin string

func TestMain(m *testing.M) { nettest.Main(m, &bin) }

// runCLI runs the medshare binary and returns its standard output, its
// standard error and its error.
func runCLI(t *testing.T, env []string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// TestImport imports the Synthea folder through hospital 1's gateway: a
// progress bar, a summary table, every record indexed once; a second run
// uploads nothing and reports everything as already stored; a folder with
// a broken file fails with the file and the gateway's reason, and a non-zero
// exit, while its good file is still recognised as stored.
func TestImport(t *testing.T) {
	sys := startSystem(t, filepath.Join(t.TempDir(), "run"))
	data, err := filepath.Abs(filepath.Join(repoRoot, "..", "shared", "data", "fhir", "synthea"))
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(data, "*.json"))
	if len(files) < 6 {
		t.Fatalf("want the Synthea bundles in %s, found %d", data, len(files))
	}
	op, err := sys.identity("operator@hospital1.example")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"MEDSHARE_CRYPTO=" + sys.info.Crypto}
	h1 := sys.info.Orgs[0].Gateway
	indexed := func() int {
		out, _, err := runCLI(t, env, "records", "--gateway", h1, "--id", op, "--owner", "Hospital1MSP", "--page-size", "100", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var p struct{ Items []json.RawMessage }
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatal(err)
		}
		return len(p.Items)
	}
	summary := regexp.MustCompile(`(?m)^\s*(uploaded|already stored|failed|total)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\S+ \S*B\s*$`)
	rows := func(out string) map[string]string {
		m := map[string]string{}
		for _, r := range summary.FindAllStringSubmatch(out, -1) {
			m[r[1]] = r[2]
		}
		return m
	}

	// 1. Every file, with the progress bar forced on (stderr is no terminal here).
	stdout, stderr, err := runCLI(t, env, "import", "--gateway", h1, "--id", op, "--progress", "always", data)
	if err != nil {
		t.Fatalf("import: %v\n%s\n%s", err, stdout, stderr)
	}
	if !strings.Contains(stderr, fmt.Sprintf("importing %d files", len(files))) || !strings.Contains(stderr, "100%") {
		t.Fatalf("no progress bar on stderr:\n%s", stderr)
	}
	n := strconv.Itoa(len(files))
	if r := rows(stdout); r["uploaded"] != n || r["already stored"] != "0" || r["failed"] != "0" || r["total"] != n {
		t.Fatalf("first run's summary %v:\n%s", r, stdout)
	}
	if got := indexed(); got != len(files) {
		t.Fatalf("hospital 1 has %d records indexed after importing %d files", got, len(files))
	}

	// 2. A re-run stores nothing new.
	stdout, _, err = runCLI(t, env, "import", "--gateway", h1, "--id", op, data)
	if err != nil {
		t.Fatalf("second import: %v\n%s", err, stdout)
	}
	if r := rows(stdout); r["uploaded"] != "0" || r["already stored"] != n || r["failed"] != "0" {
		t.Fatalf("second run's summary %v:\n%s", r, stdout)
	}
	if got := indexed(); got != len(files) {
		t.Fatalf("hospital 1 has %d records indexed after the re-run, want %d", got, len(files))
	}

	// 3. A broken file fails, with its reason; the run exits non-zero.
	mixed := t.TempDir()
	good, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mixed, "good.json"), good, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mixed, "broken.json"), []byte(`{"resourceType": "Bundle", "entry": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mixed, "invalid.json"), []byte(`{"resourceType": "Patient", "birthDate": 12}`), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, _, err = runCLI(t, env, "import", "--gateway", h1, "--id", op, mixed)
	if err == nil {
		t.Fatalf("an import with a broken file exited 0:\n%s", stdout)
	}
	if r := rows(stdout); r["uploaded"] != "0" || r["already stored"] != "1" || r["failed"] != "2" {
		t.Fatalf("mixed run's summary %v:\n%s", r, stdout)
	}
	if !regexp.MustCompile(`(?m)^FAILED\n\s+broken\.json\s+not a JSON document\n\s+invalid\.json\s+.*422`).MatchString(stdout) {
		t.Fatalf("the failure is not listed with its reason:\n%s", stdout)
	}
	if got := indexed(); got != len(files) {
		t.Fatalf("hospital 1 has %d records indexed after the failed run, want %d", got, len(files))
	}

	// 4. Closing the terminal (SIGHUP to the group) stops the system as
	// cleanly as Ctrl-C: nothing left running, its directory removed.
	sys.stopWith(syscall.SIGHUP)
}

// identity returns a demo user's identity directory.
func (s *localSys) identity(name string) (string, error) {
	for _, u := range s.info.Users {
		if u.Name == name {
			return u.Identity, nil
		}
	}
	return "", fmt.Errorf("no user %s", name)
}

// TestNetworkScript runs scripts/network.sh as an administrator does —
// every verb's --help, up, status, down — on free ports: up returns once
// the system is ready, status finds every part healthy, down stops every
// process and removes the state.
func TestNetworkScript(t *testing.T) {
	kb := kubotest.Binary(t)
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	env := append(os.Environ(), "MEDSHARE_RUN="+dir, "MEDSHARE_BIN="+bin, "MEDSHARE_KUBO="+kb, "MEDSHARE_FREE_PORTS=1")
	script := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "network.sh"), args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, verb := range []string{"up", "down", "status", "createChannel", "deployCC", "configureCC", "deployMedshare"} {
		out, err := script(verb, "--help")
		if err != nil || !strings.HasPrefix(out, "usage: scripts/network.sh "+verb) {
			t.Errorf("network.sh %s --help: %v\n%s", verb, err, out)
		}
	}
	if out, err := script("bogus"); err == nil {
		t.Errorf("network.sh bogus succeeded:\n%s", out)
	}
	t.Cleanup(func() { script("down") })
	out, err := script("up")
	if err != nil || !strings.Contains(out, "the system is up") {
		t.Fatalf("network.sh up: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(dir, pidFile))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	// up again: it says the system runs, and starts nothing.
	if out, err := script("up"); err != nil || !strings.Contains(out, "already runs") {
		t.Fatalf("a second network.sh up: %v\n%s", err, out)
	}
	out, err = script("status")
	if err != nil || !strings.Contains(out, "every node, kubo daemon and gateway is up") || strings.Count(out, "swarm peers") != 3 {
		t.Fatalf("network.sh status: %v\n%s", err, out)
	}
	if out, err := script("down"); err != nil {
		t.Fatalf("network.sh down: %v\n%s", err, out)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("the supervisor %d still runs after down (%v)", pid, err)
	}
	// The supervisor's process group was the system: nothing of it is left.
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("processes of the system still run after down (%v)", err)
	}
	for _, p := range []string{dir, dir + ".log"} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s is still there after down", p)
		}
	}
	if out, err := script("status"); err == nil {
		t.Fatalf("network.sh status succeeded with no system:\n%s", out)
	}
}
