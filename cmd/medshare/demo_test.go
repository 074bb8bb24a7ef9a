package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/medshare/medshare/network/cryptogen"
	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/nettest"
)

var bin string

func TestMain(m *testing.M) { nettest.Main(m, &bin) }

// TestDemo runs `medshare demo` against a real three-node network deployed
// as scripts/network.sh deploys it, and checks every step's outcome.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n, err := nettest.Start(ctx, nettest.Options{
		Bin: bin, Dir: t.TempDir(), Chaincodes: []nettest.Chaincode{}, LogLevel: "warn",
		// network.sh's identities: each hospital's records gateway, the
		// enrolled doctor and researcher, the research institute's auditor.
		Users: map[int][]cryptogen.User{0: {{Name: "gateway"}}, 1: {{Name: "gateway"}, {Name: "dr-bob"}}, 2: {{Name: "carol"}, {Name: "auditor"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	aa, err := identity.ReadKeyFile(filepath.Join(cryptogen.AuthorityDir(n.Crypto), "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	auditor, err := n.Identity(2, "auditor").LoadSigner()
	if err != nil {
		t.Fatal(err)
	}
	if err := deployMedshare(ctx, n, aa, []string{auditor.ID()}); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := runDemo([]string{"-crypto", n.Crypto, "-node0", n.Nodes[0].API, "-node1", n.Nodes[1].API}, &out); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	want := []string{
		`side-high +Tx_sto [0-9a-f]{64}`,
		`read back through node 1: index entry owner Hospital1MSP, 3 levels`,
		`side-high +doctor +→ granted: u and the \d+ bytes of m, checked against H\(m\)`,
		`side-medium +doctor +→ granted`,
		`side-low +researcher +→ granted`,
		`side-high +researcher +→ refused: policy_not_met`,
		`side-high +doctor +→ refused: replay`,
		`violation on side-high read through node 1: .*policy_not_met.*blamed on the user`,
		`violation on side-high read through node 1: .*replay.*blamed on the submitter`,
		`parent block [0-9a-f]{32}:demo-\d+-[0-9a-f]+-req`,
		`report \[copy\] forwarded by hospital 2's gateway → side-block 2`,
		`side-high +doctor +→ refused: revoked`,
		`hospital 1 re-grants`,
		`side-high +doctor +→ granted`,
		`hospital 1 recalls`,
		`side-high +doctor +→ refused: revoked`,
		`VerifyRequest through node 1: ok=true, 5 blocks re-walked`,
	}
	rest := out.String()
	for _, w := range want {
		loc := regexp.MustCompile(w).FindStringIndex(rest)
		if loc == nil {
			t.Fatalf("demo output lacks %q after the earlier steps:\n%s", w, out.String())
		}
		rest = rest[loc[1]:]
	}
	if testing.Verbose() {
		os.Stdout.WriteString(out.String())
	}
}
