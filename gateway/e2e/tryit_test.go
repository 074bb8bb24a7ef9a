package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medshare/medshare/gateway"
	"github.com/medshare/medshare/gateway/gwnet"
	"github.com/medshare/medshare/internal/kubo/kubotest"
	"github.com/medshare/medshare/network/cryptogen"
)

// tryBlock is a fenced block of a document.
type tryBlock struct {
	info, text string
	line       int
}

// tryItSteps returns docs/medshare.md's "sh walkthrough" blocks, each with
// the lines the "text walkthrough-output" block after it promises: the
// README walkthrough's format, so that the lead can move them there.
func tryItSteps(t *testing.T) ([]tryBlock, [][]string) {
	t.Helper()
	f, err := os.Open("../../docs/medshare.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []tryBlock
	var cur *tryBlock
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &tryBlock{info: strings.TrimSpace(strings.TrimPrefix(line, "```")), line: n}
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		}
	}
	var steps []tryBlock
	var want [][]string
	for i, b := range blocks {
		switch b.info {
		case "sh walkthrough":
			steps = append(steps, b)
			want = append(want, nil)
		case "text walkthrough-output":
			if i == 0 || blocks[i-1].info != "sh walkthrough" {
				t.Fatalf("docs/medshare.md line %d: an output block must follow a command block", b.line)
			}
			for _, l := range strings.Split(b.text, "\n") {
				if l = strings.TrimSpace(l); l != "" {
					want[len(want)-1] = append(want[len(want)-1], l)
				}
			}
		}
	}
	return steps, want
}

// matchTryLines checks that each wanted line appears in out, in order, on
// lines of its own; "…" matches anything (the README walkthrough's rule).
func matchTryLines(out string, want []string) error {
	lines := strings.Split(out, "\n")
	pos := 0
next:
	for _, w := range want {
		frags := strings.Split(w, "…")
		for ; pos < len(lines); pos++ {
			rest, ok := lines[pos], true
			for _, fr := range frags {
				i := strings.Index(rest, strings.TrimSpace(fr))
				if i < 0 {
					ok = false
					break
				}
				rest = rest[i+len(strings.TrimSpace(fr)):]
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

// TestTryIt runs docs/medshare.md's "Try it" blocks, in order, in one bash
// session, against a system of real processes with the demo identities of
// make run (hospital 1's operator, the research institute's researcher,
// enrolled, and the consortium's auditor) and the variables run/env.sh
// defines, and checks the output the document promises.
func TestTryIt(t *testing.T) {
	steps, want := tryItSteps(t)
	if len(steps) < 5 {
		t.Fatalf("docs/medshare.md has %d walkthrough blocks", len(steps))
	}
	for _, tool := range []string{"bash", "jq", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the walkthrough needs %s: %v", tool, err)
		}
	}
	kubotest.Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	t.Cleanup(cancel)
	users := map[int][]cryptogen.User{
		0: {{Name: "operator", Attributes: map[string]string{gateway.RoleAttribute: "owner"}}},
		2: {{Name: "researcher", Attributes: map[string]string{gateway.RoleAttribute: "user", "role": "researcher", "trust": "1"}},
			{Name: "auditor", Attributes: map[string]string{gateway.RoleAttribute: "auditor"}}},
	}
	sys, err := gwnet.Start(ctx, gwnet.Options{Bin: bin, Dir: t.TempDir(), Users: users, Auditors: []gwnet.UserRef{{Org: 2, Name: "auditor"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sys.Stop)
	// A workspace shaped like a clone: repo/bin/medshare, shared beside it.
	ws := t.TempDir()
	repo := filepath.Join(ws, "repo")
	shared, err := filepath.Abs(filepath.Join(synthea, "..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range [][2]string{{bin, "repo/bin/medshare"}, {shared, "shared"}} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(ws, l[1])), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(l[0], filepath.Join(ws, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	var cas []byte
	for _, o := range sys.Net.Config.Organizations {
		b, err := os.ReadFile(cryptogen.CAFile(sys.Net.Crypto, o))
		if err != nil {
			t.Fatal(err)
		}
		cas = append(cas, b...)
	}
	casFile := filepath.Join(ws, "cas.pem")
	if err := os.WriteFile(casFile, cas, 0o644); err != nil {
		t.Fatal(err)
	}
	env := fmt.Sprintf("export MEDSHARE_CRYPTO=%s CAS=%s H1=%s H2=%s RI=%s OPERATOR=%s RESEARCHER=%s AUDITOR=%s\n",
		sys.Net.Crypto, casFile, sys.URLs[0], sys.URLs[1], sys.URLs[2],
		sys.Net.Identity(0, "operator"), sys.Net.Identity(2, "researcher"), sys.Net.Identity(2, "auditor"))
	// make run enrols the data users.
	enrol := exec.CommandContext(ctx, bin, "enrol", "--gateway", sys.URLs[0], "--id", string(sys.Net.Identity(2, "researcher")))
	enrol.Env = append(os.Environ(), "MEDSHARE_CRYPTO="+sys.Net.Crypto)
	if out, err := enrol.CombinedOutput(); err != nil {
		t.Fatalf("enrol the researcher: %v\n%s", err, out)
	}

	const marker = "@@try-it-step "
	var script strings.Builder
	script.WriteString("set -euo pipefail\nexec 2>&1\n" + env)
	for i, s := range steps {
		fmt.Fprintf(&script, "echo '%s%d'\n%s", marker, i, s.text)
	}
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = repo
	out, runErr := cmd.CombinedOutput()
	outputs := map[int]string{}
	for _, p := range strings.Split(string(out), marker)[1:] {
		var i int
		if _, err := fmt.Sscanf(p, "%d", &i); err == nil {
			_, body, _ := strings.Cut(p, "\n")
			outputs[i] = body
		}
	}
	if runErr != nil {
		last := len(outputs) - 1
		t.Fatalf("the Try it blocks failed at docs/medshare.md line %d: %v\n--- block:\n%s--- output:\n%s", steps[last].line, runErr, steps[last].text, outputs[last])
	}
	for i, s := range steps {
		if err := matchTryLines(outputs[i], want[i]); err != nil {
			t.Errorf("docs/medshare.md line %d: %v\n--- block:\n%s--- output:\n%s", s.line, err, s.text, outputs[i])
		}
	}
	if testing.Verbose() {
		t.Logf("output:\n%s", out)
	}
}
