// Package e2e tests the gateways end to end on real processes: three
// ledger nodes (network/nettest), three kubo daemons in one private swarm
// (internal/kubo/kubotest) and three `medshare gateway` processes serving
// HTTPS with mutual TLS, driven through the Go client as a hospital's
// operator and as data users of the three organisations.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/gateway"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/client"
	"github.com/medshare/medshare/gateway/grade"
	"github.com/medshare/medshare/gateway/gwnet"
	"github.com/medshare/medshare/gateway/ledger"
	"github.com/medshare/medshare/internal/kubo/kubotest"
	"github.com/medshare/medshare/network/cryptogen"
	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/nettest"
)

var bin string

func TestMain(m *testing.M) { nettest.Main(m, &bin) }

const synthea = "../../../shared/data/fhir/synthea"

var orgs = []string{"Hospital1MSP", "Hospital2MSP", "ResearchMSP"}

// The record policy of every upload: nurses, doctors and researchers read
// the clinical content; nurses and doctors the quasi-identifiers; only a
// cardiologist at trust level 2 or more the direct identifiers.
var recordPolicy = &api.RecordPolicy{
	Low:    "role = doctor or role = nurse or role = researcher",
	Medium: "role = doctor or role = nurse",
	High:   "role = doctor and trust >= 2 and specialty = cardiology",
}

type env struct {
	t      *testing.T
	ctx    context.Context
	sys    *gwnet.System
	grader *grade.Grader
}

func (e *env) identity(org int, user string) *client.Identity {
	id, err := e.sys.Identity(org, user)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) client(gw, org int, user string) *client.Client {
	c, err := e.sys.Client(gw, org, user)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func start(t *testing.T) *env {
	if _, err := os.Stat(synthea); err != nil {
		t.Fatalf("the Synthea bundles are not at %s: %v", synthea, err)
	}
	kubotest.Binary(t) // skipped without kubo, failed in CI
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	t.Cleanup(cancel)
	// The demo identities of network/crypto-config.yaml (what make run and
	// the README use): hospital 1's operator and nurse (trust 1), hospital
	// 2's cardiologist (trust 2), the research institute's researcher.
	crypto, err := cryptogen.Load("../../network/crypto-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sys, err := gwnet.Start(ctx, gwnet.Options{Bin: bin, Dir: t.TempDir(), LogLevel: "info", Crypto: crypto})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, sys: sys}
	t.Cleanup(func() {
		if t.Failed() {
			for i := range gwnet.Orgs {
				t.Logf("gateway %d log (tail):\n%s", i, gwnet.Tail(sys.GatewayLog(i), 40))
				t.Logf("node %d log (tail):\n%s", i, gwnet.Tail(sys.Net.Logs(i), 20))
			}
		}
		sys.Stop()
	})
	if e.grader, err = grade.New(grade.DefaultRules()); err != nil {
		t.Fatal(err)
	}
	return e
}

// reader enrols a data user at the authority (hospital 1's gateway) and
// returns its reader, home at its own organisation's gateway.
func (e *env) reader(org int, user string) *client.Reader {
	t := e.t
	id := e.identity(org, user)
	aa, err := client.New(e.sys.URLs[0], id)
	if err != nil {
		t.Fatal(err)
	}
	en, err := aa.Enrol(e.ctx)
	if err != nil {
		t.Fatalf("enrol %s: %v", user, err)
	}
	u, uk, err := client.UserOf(id, en)
	if err != nil {
		t.Fatal(err)
	}
	home, err := client.New(e.sys.URLs[org], id)
	if err != nil {
		t.Fatal(err)
	}
	// The owner's gateway is found as deployed readers find it: through the
	// home gateway (the registry on main), pinned to the owner's CA.
	return &client.Reader{Home: home, User: u, Key: uk, Assemble: grade.Assemble}
}

func bundles(t *testing.T) map[string][]byte {
	files, err := filepath.Glob(filepath.Join(synthea, "*_*.json"))
	if err != nil || len(files) != 6 {
		t.Fatalf("want the six patient bundles, found %d (%v)", len(files), err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

func TestGatewaysEndToEnd(t *testing.T) {
	e := start(t)
	ctx := e.ctx
	op := e.client(0, 0, "operator")
	now := time.Now().UTC()
	access := &api.Access{NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}

	// 1. Hospital 1 uploads the six patients.
	docs := bundles(t)
	ids := map[string]string{}
	var firstUp *api.Upload
	for name, b := range docs {
		up, err := op.Upload(ctx, &api.UploadRequest{Document: b, Policy: recordPolicy, Access: access})
		if err != nil {
			t.Fatalf("upload %s: %v", name, err)
		}
		if !up.Indexed || up.Kind != "Bundle" || len(up.Levels) != 3 || up.Counts.High == 0 || up.Counts.Medium == 0 || up.Counts.Low == 0 {
			t.Fatalf("upload %s = %+v", name, up)
		}
		ids[name] = up.RecordID
		if firstUp == nil {
			firstUp = up
		}
		t.Logf("uploaded %s as %s: %+v", name, up.RecordID, up.Counts)
	}

	// 1b. Discovery: each organisation's administrator registered its
	// gateway on main (gwnet does, before the gateways start); another
	// organisation's administrator and an organisation's own operator
	// cannot redirect it; a client pinned to hospital 1 refuses hospital
	// 2's gateway certificate; /readyz reports the replication follower.
	discovery(t, e)

	// 2. Each reader gets exactly the elements of its levels.
	readers := []struct {
		name    string
		org     int
		top     policy.Level
		refused map[string]string
	}{
		{"cardiologist", 1, policy.High, map[string]string{}},
		{"nurse", 0, policy.Medium, map[string]string{"high": ptl.ReasonPolicyNotMet}},
		{"researcher", 2, policy.Low, map[string]string{"high": ptl.ReasonPolicyNotMet, "medium": ptl.ReasonPolicyNotMet}},
	}
	for _, rd := range readers {
		t.Run(rd.name, func(t *testing.T) {
			r := e.reader(rd.org, rd.name)
			for name, b := range docs {
				res, err := r.Open(ctx, ids[name], client.OpenOptions{Probe: true})
				if err != nil {
					t.Fatalf("%s opens %s: %v", rd.name, name, err)
				}
				want, err := e.grader.Filter(b, rd.top)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(res.Document, want) {
					t.Fatalf("%s's %s differs from the expected document of levels up to %s:\n got %d bytes\nwant %d bytes",
						rd.name, name, rd.top, len(res.Document), len(want))
				}
				if rd.top < policy.High {
					full, _ := e.grader.Filter(b, policy.High)
					if bytes.Equal(full, want) {
						t.Fatalf("%s: the filtered document is the whole record; the test would prove nothing", name)
					}
					if !bytes.Contains(res.Document, []byte("REDACTED")) {
						t.Fatalf("%s's %s carries no REDACTED security label", rd.name, name)
					}
				}
				refused := map[string]string{}
				for _, l := range res.Levels {
					if l.Status == client.Refused {
						refused[l.Level] = l.Reason
						if l.ViolationID == "" {
							t.Errorf("refusal of %s without a violation id", l.Level)
						}
					} else if l.Status != client.Opened {
						t.Errorf("level %s: status %s", l.Level, l.Status)
					}
				}
				if fmt.Sprint(refused) != fmt.Sprint(rd.refused) {
					t.Fatalf("%s on %s: refused %v, want %v", rd.name, name, refused, rd.refused)
				}
			}
		})
	}
	if t.Failed() {
		return
	}

	// 2b. The CLI: the nurse enrols and opens a record with medshare
	// access, which writes exactly the medium-and-low document.
	nurseID := string(e.sys.Net.Identity(0, "nurse"))
	wallet := filepath.Join(t.TempDir(), "wallet")
	cli := func(args ...string) string {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), "MEDSHARE_ID="+nurseID, "MEDSHARE_CRYPTO="+e.sys.Net.Crypto, "MEDSHARE_WALLET="+wallet)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("medshare %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	cli("enrol", "--gateway", e.sys.URLs[0])
	outFile := filepath.Join(t.TempDir(), "record.json")
	name := firstName(ids)
	log := cli("access", "--gateway", e.sys.URLs[0], "--probe", "--out", outFile, ids[name])
	if !strings.Contains(log, "high   refused: policy_not_met") || !strings.Contains(log, "medium opened") {
		t.Fatalf("medshare access printed:\n%s", log)
	}
	got, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := e.grader.Filter(docs[name], policy.Medium); !bytes.Equal(got, want) {
		t.Fatal("medshare access wrote another document than the nurse's levels")
	}

	// 2c. Recall: hospital 1 re-encrypts another record and blocks the
	// nurse; hospital 2's follower pins the new version's objects and
	// unpins the old ones, and the nurse is refused as revoked.
	var recalled string
	for n := range ids {
		if n != name && recalled == "" {
			recalled = n
		}
	}
	oldRec, err := e.client(1, 1, "cardiologist").Record(ctx, ids[recalled])
	if err != nil {
		t.Fatal(err)
	}
	var oldCIDs []string
	for _, l := range oldRec.Levels {
		lv, err := e.client(1, 1, "cardiologist").Level(ctx, ids[recalled], l.Level)
		if err != nil {
			t.Fatal(err)
		}
		oldCIDs = append(oldCIDs, lv.Address)
		waitPinned(t, ctx, e.sys.Kubo[1].APIAddr(), lv.Address)
	}
	nurseReader := e.reader(0, "nurse")
	rc, err := op.Recall(ctx, ids[recalled], &api.RecallRequest{User: nurseReader.User.ID(), Reason: "end of the shift"})
	if err != nil {
		t.Fatal(err)
	}
	if rc.Version != 2 || len(rc.Unpinned) != 3 || len(rc.Blocked) != 3 {
		t.Fatalf("recall = %+v", rc)
	}
	for _, l := range rc.Levels {
		waitPinned(t, ctx, e.sys.Kubo[1].APIAddr(), l.Address)
	}
	for _, cid := range oldCIDs {
		waitUnpinned(t, ctx, e.sys.Kubo[1].APIAddr(), cid)
	}
	res, err := nurseReader.Open(ctx, ids[recalled], client.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range res.Levels {
		if l.Level != "high" && l.Reason != ptl.ReasonRevoked {
			t.Fatalf("nurse after the recall, %s: %+v", l.Level, l)
		}
	}

	// 3. Hospital 2's follower pinned hospital 1's ciphertexts: with
	// hospital 1's kubo stopped, hospital 2's cardiologist still reads a
	// record through hospital 2's gateway and kubo.
	target := ids[firstName(ids)]
	rec, err := e.client(1, 1, "cardiologist").Record(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	h2 := e.sys.Kubo[1].APIAddr()
	for _, l := range rec.Levels {
		lv, err := e.client(1, 1, "cardiologist").Level(ctx, target, l.Level)
		if err != nil {
			t.Fatal(err)
		}
		waitPinned(t, ctx, h2, lv.Address)
	}
	if err := e.sys.Kubo[0].Stop(); err != nil {
		t.Fatal(err)
	}
	cardio := e.reader(1, "cardiologist")
	res, err = cardio.Open(ctx, target, client.OpenOptions{})
	if err != nil {
		t.Fatalf("with hospital 1's kubo down: %v", err)
	}
	want, _ := e.grader.Filter(docs[firstName(ids)], policy.High)
	if !bytes.Equal(res.Document, want) {
		t.Fatal("with hospital 1's kubo down the cardiologist's document differs")
	}

	// 4. Kubo down: an upload answers 503 and submits nothing.
	before := indexed(t, e)
	_, err = op.Upload(ctx, &api.UploadRequest{Document: docs[firstName(ids)], Policy: recordPolicy, Access: access})
	var pe *client.ProblemError
	if !errors.As(err, &pe) || pe.Status != http.StatusServiceUnavailable || pe.Type != gateway.ProblemIPFSUnavailable {
		t.Fatalf("upload with kubo down: %v, want 503 %s", err, gateway.ProblemIPFSUnavailable)
	}
	if after := indexed(t, e); after != before {
		t.Fatalf("index grew from %d to %d with kubo down", before, after)
	}

	// 5. Ledger down: hospital 1's node is stopped; the upload answers 503,
	// the ciphertext it added is unpinned and nothing is indexed.
	if err := e.sys.RestartKubo(ctx, 0); err != nil {
		t.Fatal(err)
	}
	pinsBefore := pins(t, ctx, e.sys.Kubo[0].APIAddr())
	if err := e.sys.Net.Terminate(0); err != nil {
		t.Fatal(err)
	}
	_, err = op.Upload(ctx, &api.UploadRequest{Document: docs[firstName(ids)], Policy: recordPolicy, Access: access})
	if !errors.As(err, &pe) || pe.Status != http.StatusServiceUnavailable {
		t.Fatalf("upload with the ledger down: %v, want 503", err)
	}
	if got := pins(t, ctx, e.sys.Kubo[0].APIAddr()); got != pinsBefore {
		t.Fatalf("hospital 1's kubo holds %d pins after the failed upload, %d before", got, pinsBefore)
	}
	if after := indexed(t, e); after != before {
		t.Fatalf("index grew from %d to %d with the ledger down", before, after)
	}
}

func discovery(t *testing.T, e *env) {
	ctx := e.ctx
	h1 := gwnet.Orgs[0]
	for _, who := range []struct {
		name string
		org  int
		user string
		want string
	}{
		{"hospital 2's admin", 1, "admin", "caller: only an administrator of Hospital1MSP may register its gateway; the caller is an administrator of Hospital2MSP"},
		{"hospital 1's operator", 0, "operator", "caller: only a channel admin (role admin) may register an organisation's gateway; the creator's role is client"},
	} {
		gw, err := e.sys.Net.Gateway(who.org, who.org, who.user)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = (&ledger.Chain{L: ledger.NewNetwork(gw)}).SetGateway(ctx, h1, "https://203.0.113.9:8443")
		var re *ledger.RefusedError
		if !errors.As(err, &re) || !strings.Contains(re.Message, who.want) {
			t.Fatalf("%s redirecting hospital 1's gateway: %v", who.name, err)
		}
	}
	cardio := e.client(1, 1, "cardiologist")
	g, err := cardio.Gateway(ctx, h1)
	if err != nil {
		t.Fatal(err)
	}
	if g.URL != e.sys.URLs[0] || g.Source != api.SourceRegistry || g.Version != 1 {
		t.Fatalf("hospital 1's gateway as hospital 2 resolves it: %+v", g)
	}
	ca, err := identity.ParseCertPEM([]byte(g.CA))
	if err != nil {
		t.Fatal(err)
	}
	id := e.identity(1, "cardiologist")
	for i, url := range e.sys.URLs {
		pinned, err := client.New(url, id, client.WithOrganisation(h1, ca))
		if err != nil {
			t.Fatal(err)
		}
		_, err = pinned.Whoami(ctx)
		if (i == 0) != (err == nil) {
			t.Fatalf("a client pinned to hospital 1 at gateway %d: %v", i, err)
		}
	}
	var h api.Health
	if status, err := e.client(1, 1, "cardiologist").Do(ctx, "GET", "/readyz", "", nil, &h); err != nil || status != 200 ||
		h.Checks["replication"] != "ok" || h.Replication == nil || h.Replication.Streams == 0 || h.Replication.StreamsUp != h.Replication.Streams {
		t.Fatalf("hospital 2's readiness: %d %+v %+v %v", status, h, h.Replication, err)
	}
}

func firstName(ids map[string]string) string {
	best := ""
	for n := range ids {
		if best == "" || n < best {
			best = n
		}
	}
	return best
}

// indexed counts hospital 1's records as hospital 2's gateway finds them.
func indexed(t *testing.T, e *env) int {
	p, err := e.client(1, 1, "cardiologist").Find(e.ctx, client.FindQuery{Owner: "Hospital1MSP", PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	return len(p.Items)
}

func kuboPost(ctx context.Context, api, cmd string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", "http://"+api+"/api/v0/"+cmd, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(resp.Body)
	return buf.Bytes(), err
}

func pins(t *testing.T, ctx context.Context, api string) int {
	b, err := kuboPost(ctx, api, "pin/ls?type=recursive")
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Keys map[string]any }
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("pin ls: %v: %s", err, b)
	}
	return len(out.Keys)
}

func waitUnpinned(t *testing.T, ctx context.Context, api, cid string) {
	for {
		b, err := kuboPost(ctx, api, "pin/ls?type=recursive&arg="+cid)
		if err == nil && !bytes.Contains(b, []byte(`"Keys"`)) {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("%s still pinned at %s: %s %v", cid, api, b, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func waitPinned(t *testing.T, ctx context.Context, api, cid string) {
	for {
		b, err := kuboPost(ctx, api, "pin/ls?type=recursive&arg="+cid)
		if err == nil && bytes.Contains(b, []byte(cid)) && !bytes.Contains(b, []byte(`"Type":"error"`)) {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("%s never pinned at %s: %s %v", cid, api, b, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
