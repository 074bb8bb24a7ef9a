package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/medshare/medshare/gateway"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/client"
	"github.com/medshare/medshare/gateway/gwnet"
	"github.com/medshare/medshare/internal/kubo"
	"github.com/medshare/medshare/network/cryptogen"
	"github.com/medshare/medshare/network/nettest"
)

// The files a running local system keeps in its directory besides the
// processes' own: what `medshare network status`, `medshare demo`,
// scripts/network.sh and the README's walkthrough read.
const (
	systemFile = "network.json" // localSystem
	pidFile    = "network.pid"  // the supervisor's process id
	readyFile  = "ready"        // written once everything is up
	envFile    = "env.sh"       // shell variables for the walkthrough
	casFile    = "cas.pem"      // every organisation's CA, for curl --cacert
)

// gatewayVars name the organisations' gateway URLs in env.sh, in order.
var gatewayVars = []string{"H1", "H2", "RI"}

// localSystem describes a running local system: where each part listens,
// its logs, and the demo users.
type localSystem struct {
	Dir    string      `json:"dir"`
	PID    int         `json:"pid"`
	Crypto string      `json:"crypto"`
	Orgs   []localOrg  `json:"orgs"`
	Users  []localUser `json:"users"`
}

type localOrg struct {
	Name       string `json:"name"`
	MSPID      string `json:"mspID"`
	Admin      string `json:"admin"` // identity directory
	Node       string `json:"node"`
	NodeLog    string `json:"nodeLog"`
	KuboAPI    string `json:"kuboAPI"`
	KuboSwarm  string `json:"kuboSwarm"`
	KuboLog    string `json:"kuboLog"`
	Gateway    string `json:"gateway"` // URL
	GatewayID  string `json:"gatewayIdentity"`
	GatewayLog string `json:"gatewayLog"`
	Authority  bool   `json:"authority,omitempty"`
}

type localUser struct {
	Name       string            `json:"name"`
	Org        int               `json:"org"`
	Identity   string            `json:"identity"`
	Var        string            `json:"var"` // its variable in env.sh
	Attributes map[string]string `json:"attributes,omitempty"`
	Enrolled   bool              `json:"enrolled,omitempty"`
}

// runNetwork runs or inspects the whole local system.
func runNetwork(args []string, stdout io.Writer) error {
	verb, rest, err := subcommand(args, "run", "status", "compose-init")
	if err != nil {
		return err
	}
	switch verb {
	case "status":
		return runNetworkStatus(rest, stdout)
	case "compose-init":
		return runNetworkComposeInit(rest, stdout)
	}
	return runNetworkRun(rest, stdout)
}

// runNetworkRun starts the whole system — crypto material and swarm key,
// three nodes, four channels, the contracts deployed and configured by
// every organisation, three kubo daemons in one private swarm, three
// gateways, the demo users enrolled — prints what is where, and runs until
// SIGINT or SIGTERM, then stops every process and removes the directory.
// Every process it starts dies with it, however it dies.
func runNetworkRun(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("network run", flag.ContinueOnError)
	dir := fs.String("dir", "run", "the system's state directory (removed when it stops)")
	cryptoCfg := fs.String("crypto-config", "network/crypto-config.yaml", "organisations and demo identities")
	profile := fs.String("profile", "network/configtx.yaml", "channel profile whose access rules the channels get")
	free := fs.Bool("free-ports", false, "listen on free loopback ports instead of the well-known ones (tests)")
	logLevel := fs.String("log-level", "info", "log level of the nodes and gateways")
	timeout := fs.Duration("start-timeout", 10*time.Minute, "time limit for starting everything")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return errors.New("usage: medshare network run [flags]")
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	cfg, err := cryptogen.Load(*cryptoCfg)
	if err != nil {
		return err
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	var layout gwnet.Layout
	if !*free {
		layout = gwnet.FixedLayout()
		if err := portsFree(layout); err != nil {
			return err
		}
	}
	if err := claimDir(abs, stdout); err != nil {
		return err
	}
	// From here on the directory is ours: remove it when we stop, except
	// after a failed start, whose logs the operator needs (the next run
	// removes them).
	keep := false
	defer func() {
		if keep {
			fmt.Fprintf(stdout, "==> stopped; %s kept for its logs (the next make run removes it)\n", *dir)
			return
		}
		os.RemoveAll(abs)
		fmt.Fprintf(stdout, "==> stopped; removed %s\n", *dir)
	}()

	// SIGHUP too: closing the terminal that runs the system stops it as
	// cleanly as Ctrl-C, instead of killing it before it removes its
	// directory.
	sigCtx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	ctx, cancel := context.WithTimeout(sigCtx, *timeout)
	defer cancel()
	start := time.Now()
	progress := func(stage string) {
		fmt.Fprintf(stdout, "==> [%3.0fs] %s\n", time.Since(start).Seconds(), stage)
	}
	var auditors []gwnet.UserRef
	for i, o := range cfg.Organizations {
		for _, u := range o.Users {
			if isAuditor(u) {
				auditors = append(auditors, gwnet.UserRef{Org: i, Name: u.Name})
			}
		}
	}
	sys, err := gwnet.Start(ctx, gwnet.Options{Bin: bin, Dir: abs, Crypto: cfg, Layout: layout, ACLProfile: *profile,
		Auditors: auditors, LogLevel: *logLevel, Progress: progress,
		// kv, the ledger's own test chaincode, for docs/ledger.md's examples.
		Chaincodes: []nettest.Chaincode{{Name: "kv", Channels: nettest.DefaultChannels}}})
	if err != nil {
		if sigCtx.Err() != nil {
			return errors.New("interrupted while starting")
		}
		keep = true
		return fmt.Errorf("starting the system: %w (logs in %s/node*/node.log, %s/kubo/kubo*/daemon.log, %s/gateway*/gateway.log)", err, *dir, *dir, *dir)
	}
	defer sys.Stop()
	progress("enrolling the demo users at the attribute authority (ABE keys, credentials, enrolments)")
	ls, err := describe(sys, abs)
	if err != nil {
		return err
	}
	if err := enrolUsers(ctx, sys, ls); err != nil {
		return err
	}
	if err := writeSystemFiles(ls); err != nil {
		return err
	}
	printBanner(stdout, ls, *dir, time.Since(start))
	if err := os.WriteFile(filepath.Join(abs, readyFile), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return err
	}
	<-sigCtx.Done()
	fmt.Fprintln(stdout, "==> stopping the gateways, kubo daemons and nodes")
	return nil
}

func isAuditor(u cryptogen.User) bool {
	return u.Attributes[gateway.RoleAttribute] == string(gateway.RoleAuditor) || u.Attributes["medshare.auditor"] == "true"
}

// portsFree fails with a clear message when a well-known port is taken (by
// another system: scripts/network.sh down stops it).
func portsFree(l gwnet.Layout) error {
	for _, o := range l {
		for _, a := range []string{o.NodeAPI, o.NodeCluster, o.KuboAPI, o.KuboGateway, o.KuboSwarm, o.Gateway} {
			ln, err := net.Listen("tcp", a)
			if err != nil {
				return fmt.Errorf("%s is in use (another medshare system? stop it with scripts/network.sh down): %w", a, err)
			}
			ln.Close()
		}
	}
	return nil
}

// claimDir makes dir the system's: it refuses a directory whose supervisor
// still runs, removes one a killed supervisor left behind, and records our
// process id.
func claimDir(dir string, stdout io.Writer) error {
	if raw, err := os.ReadFile(filepath.Join(dir, pidFile)); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil && pid != os.Getpid() && syscall.Kill(pid, 0) == nil {
			return fmt.Errorf("a system already runs in %s (process %d): stop it first (scripts/network.sh down)", dir, pid)
		}
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		ours := false
		for _, e := range entries {
			if slices.Contains([]string{systemFile, pidFile, "crypto", "node0"}, e.Name()) {
				ours = true
			}
		}
		if !ours {
			return fmt.Errorf("%s exists and is not a medshare system's directory: choose another --dir", dir)
		}
		fmt.Fprintf(stdout, "==> removing %s, left behind by a system that did not stop cleanly\n", dir)
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
}

// describe lists what runs where and the demo users.
func describe(sys *gwnet.System, dir string) (*localSystem, error) {
	n := sys.Net
	ls := &localSystem{Dir: dir, PID: os.Getpid(), Crypto: n.Crypto}
	for i, o := range n.Config.Organizations {
		ls.Orgs = append(ls.Orgs, localOrg{
			Name: o.Name, MSPID: o.MSPID, Admin: string(n.Identity(i, "admin")),
			Node: n.Nodes[i].API, NodeLog: n.Nodes[i].LogPath,
			KuboAPI: sys.Kubo[i].APIAddr(), KuboSwarm: sys.Kubo[i].Config().Swarm, KuboLog: sys.Kubo[i].LogPath(),
			Gateway: sys.URLs[i], GatewayID: string(n.Identity(i, gwnet.GatewayUser)), GatewayLog: sys.Logs[i],
			Authority: i == 0,
		})
		for _, u := range o.Users {
			if u.Name == gwnet.GatewayUser {
				continue
			}
			ls.Users = append(ls.Users, localUser{Name: cryptogen.UserName(o, u.Name), Org: i, Identity: string(n.Identity(i, u.Name)),
				Var: strings.ToUpper(strings.ReplaceAll(u.Name, "-", "_")), Attributes: u.Attributes})
		}
	}
	return ls, nil
}

// enrolUsers has every data user (medshare.role user) enrolled at the
// attribute authority, hospital 1's gateway, and keeps the answer where
// the CLI looks for it (<identity>/abe), as `medshare enrol` does.
func enrolUsers(ctx context.Context, sys *gwnet.System, ls *localSystem) error {
	for i := range ls.Users {
		u := &ls.Users[i]
		if u.Attributes[gateway.RoleAttribute] != string(gateway.RoleUser) {
			continue
		}
		id, err := client.LoadIdentity(u.Identity, caFiles(sys)...)
		if err != nil {
			return err
		}
		aa, err := client.New(sys.URLs[0], id)
		if err != nil {
			return err
		}
		e, err := aa.Enrol(ctx)
		if err != nil {
			return fmt.Errorf("enrolling %s: %w", u.Name, err)
		}
		if err := saveEnrolment(filepath.Join(u.Identity, "abe"), e); err != nil {
			return err
		}
		u.Enrolled = true
	}
	return nil
}

func caFiles(sys *gwnet.System) []string {
	var out []string
	for _, o := range sys.Net.Config.Organizations {
		out = append(out, cryptogen.CAFile(sys.Net.Crypto, o))
	}
	return out
}

// writeSystemFiles writes network.json, env.sh and cas.pem.
func writeSystemFiles(ls *localSystem) error {
	raw, err := json.MarshalIndent(ls, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(ls.Dir, systemFile), append(raw, '\n'), 0o644); err != nil {
		return err
	}
	var cas []byte
	for _, o := range ls.Orgs {
		b, err := os.ReadFile(filepath.Join(ls.Crypto, o.Name, "msp", "cacert.pem"))
		if err != nil {
			return err
		}
		cas = append(cas, b...)
	}
	if err := os.WriteFile(filepath.Join(ls.Dir, casFile), cas, 0o644); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# The local medshare system's addresses and demo identities, for the README's walkthrough.\n")
	fmt.Fprintf(&b, "# Written by `medshare network run` (make run); source it: . %s/%s\n", filepath.Base(ls.Dir), envFile)
	fmt.Fprintf(&b, "export MEDSHARE_CRYPTO=%s   # the CLI trusts these organisations' CAs\n", ls.Crypto)
	fmt.Fprintf(&b, "export CAS=%s   # the same CAs in one file, for curl --cacert\n", filepath.Join(ls.Dir, casFile))
	for i, o := range ls.Orgs {
		note := ""
		if o.Authority {
			note = ", also the attribute authority"
		}
		fmt.Fprintf(&b, "export %s=%s   # %s's gateway%s\n", gatewayVars[i], o.Gateway, o.Name, note)
		fmt.Fprintf(&b, "export %s_ADMIN=%s   # %s's administrator\n", gatewayVars[i], o.Admin, o.Name)
	}
	for _, u := range ls.Users {
		fmt.Fprintf(&b, "export %s=%s   # %s\n", u.Var, u.Identity, describeUser(u))
	}
	return os.WriteFile(filepath.Join(ls.Dir, envFile), []byte(b.String()), 0o644)
}

func describeUser(u localUser) string {
	var attrs []string
	for k, v := range u.Attributes {
		if k != gateway.RoleAttribute {
			attrs = append(attrs, k+"="+v)
		}
	}
	slices.Sort(attrs)
	s := u.Attributes[gateway.RoleAttribute]
	if len(attrs) > 0 {
		s += " (" + strings.Join(attrs, ", ") + ")"
	}
	if u.Enrolled {
		s += ", enrolled"
	}
	return s
}

// walkthroughStart is the README walkthrough's first block: the banner
// prints it (TestWalkthrough checks that they agree).
const walkthroughStart = `. run/env.sh
bin/medshare upload --gateway $H1 --id $OPERATOR ../shared/data/fhir/synthea/Roland928_Nienow652_13b1a0f2-dceb-37a2-f32b-f0ca6e3b9925.json | tee upload.json`

func printBanner(w io.Writer, ls *localSystem, dir string, took time.Duration) {
	fmt.Fprintf(w, "\nmedshare is up (%.0fs): three organisations on loopback, state in %s/\n\n", took.Seconds(), dir)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ORGANISATION\tNODE\tKUBO API\tKUBO SWARM\tGATEWAY")
	for _, o := range ls.Orgs {
		gw := o.Gateway
		if o.Authority {
			gw += " (attribute authority)"
		}
		fmt.Fprintf(tw, "%s (%s)\t%s\t%s\t%s\t%s\n", o.Name, o.MSPID, o.Node, o.KuboAPI, o.KuboSwarm, gw)
	}
	tw.Flush()
	rel := func(p string) string {
		if r, err := filepath.Rel(filepath.Dir(ls.Dir), p); err == nil {
			return r
		}
		return p
	}
	fmt.Fprintf(w, "\nchannels main, side-high, side-medium, side-low; contracts index, storage, ptl, provenance (and kv, the ledger's test chaincode)\n")
	fmt.Fprintf(w, "logs: %s, %s, %s (and the other organisations' alike)\n", rel(ls.Orgs[0].NodeLog), rel(ls.Orgs[0].KuboLog), rel(ls.Orgs[0].GatewayLog))
	fmt.Fprintf(w, "\ndemo users (identities under %s; variables in %s):\n", rel(ls.Crypto), rel(filepath.Join(ls.Dir, envFile)))
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, u := range ls.Users {
		fmt.Fprintf(tw, "  $%s\t%s\t%s\n", u.Var, u.Name, describeUser(u))
	}
	tw.Flush()
	fmt.Fprintf(w, "\nNext, in another terminal at the repository's root (the README's walkthrough):\n\n")
	for _, l := range strings.Split(walkthroughStart, "\n") {
		fmt.Fprintf(w, "  %s\n", l)
	}
	fmt.Fprintf(w, "\nscripts/network.sh status shows every part's health. Ctrl-C stops everything and removes %s/.\n", dir)
}

// runNetworkStatus reports every part of a running local system: each
// node's channels, each kubo's swarm peers, each gateway's readiness.
func runNetworkStatus(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("network status", flag.ContinueOnError)
	dir := fs.String("dir", "run", "the system's state directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	raw, err := os.ReadFile(filepath.Join(*dir, systemFile))
	if err != nil {
		return fmt.Errorf("no system is running from %s (make run, or scripts/network.sh up): %w", *dir, err)
	}
	var ls localSystem
	if err := json.Unmarshal(raw, &ls); err != nil {
		return fmt.Errorf("%s: %w", systemFile, err)
	}
	var failed []string
	for _, o := range ls.Orgs {
		fmt.Fprintf(stdout, "== %s (%s)\n", o.Name, o.MSPID)
		cf := connFlags{node: o.Node, id: o.Admin, crypto: ls.Crypto}
		if err := runStatus([]string{"--node", cf.node, "--id", cf.id, "--crypto", cf.crypto}, stdout); err != nil {
			fmt.Fprintf(stdout, "node %s: DOWN: %v\n", o.Node, err)
			failed = append(failed, o.Name+" node")
		}
		if peers, err := kuboPeers(o.KuboAPI); err != nil {
			fmt.Fprintf(stdout, "kubo %s: DOWN: %v\n", o.KuboAPI, err)
			failed = append(failed, o.Name+" kubo")
		} else {
			fmt.Fprintf(stdout, "kubo %s: up, %d swarm peers\n", o.KuboAPI, peers)
		}
		if h, err := gatewayReady(o, ls.Crypto); err != nil {
			fmt.Fprintf(stdout, "gateway %s: NOT READY: %v\n", o.Gateway, err)
			failed = append(failed, o.Name+" gateway")
		} else {
			fmt.Fprintf(stdout, "gateway %s: ready (%s)\n", o.Gateway, h)
		}
		fmt.Fprintln(stdout)
	}
	if len(failed) > 0 {
		return fmt.Errorf("not healthy: %s", strings.Join(failed, ", "))
	}
	fmt.Fprintln(stdout, "every node, kubo daemon and gateway is up")
	return nil
}

// kuboPeers asks a kubo daemon's RPC API how many swarm peers it has.
func kuboPeers(addr string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/api/v0/swarm/peers", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out struct{ Peers []json.RawMessage }
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		return 0, err
	}
	return len(out.Peers), nil
}

// gatewayReady asks a gateway's /readyz as its own identity.
func gatewayReady(o localOrg, crypto string) (string, error) {
	cas, _ := filepath.Glob(filepath.Join(crypto, "*", "msp", "cacert.pem"))
	id, err := client.LoadIdentity(o.GatewayID, cas...)
	if err != nil {
		return "", err
	}
	c, err := client.New(o.Gateway, id)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var h api.Health
	status, err := c.Do(ctx, http.MethodGet, "/readyz", "", nil, &h)
	if err != nil {
		return "", err
	}
	if status != http.StatusOK {
		return "", fmt.Errorf("HTTP %d: %+v", status, h)
	}
	return fmt.Sprintf("HTTP %d", status), nil
}

// runNetworkComposeInit prepares what docker-compose.yaml mounts: the
// crypto material and swarm key, each organisation's kubo repository
// (configured for the containers' network: API and swarm on the container's
// interfaces, the other organisations' daemons as peers by service name)
// and each gateway's configuration. Containers built FROM scratch have no
// shell to do it themselves.
func runNetworkComposeInit(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("network compose-init", flag.ContinueOnError)
	dir := fs.String("dir", "run/compose", "where to write (must not exist or be empty)")
	cryptoCfg := fs.String("crypto-config", "network/crypto-config.yaml", "organisations and demo identities")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := cryptogen.Load(*cryptoCfg)
	if err != nil {
		return err
	}
	if len(cfg.Organizations) != len(gwnet.Orgs) {
		return fmt.Errorf("want %d organisations", len(gwnet.Orgs))
	}
	if entries, err := os.ReadDir(*dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty", *dir)
	}
	bin, err := kubo.FindBinary()
	if err != nil {
		return err
	}
	crypto := filepath.Join(*dir, "crypto")
	if err := runCrypto([]string{"generate", "--config", *cryptoCfg, "--out", crypto}, io.Discard); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var nodes []*kubo.Node
	for i := range cfg.Organizations {
		kc := kubo.DefaultConfig()
		kc.Bin, kc.SwarmKey, kc.AllowRemoteAPI = bin, filepath.Join(crypto, kubo.SwarmKeyFile), true
		kc.Repo = filepath.Join(*dir, fmt.Sprintf("kubo%d", i))
		// Inside its container: the API for the organisation's gateway, the
		// swarm for the other organisations' daemons, the HTTP gateway unused.
		kc.API, kc.Gateway, kc.Swarm = "0.0.0.0:5001", "127.0.0.1:8080", "0.0.0.0:4001"
		nd, err := kubo.Init(ctx, kc)
		if err != nil {
			return err
		}
		nodes = append(nodes, nd)
	}
	var peers []kubo.Peer
	for i, nd := range nodes {
		peers = append(peers, kubo.Peer{ID: nd.ID(), Addrs: []string{fmt.Sprintf("/dns4/kubo%d/tcp/4001", i)}})
	}
	// Users and gateways find each organisation's gateway in the registry
	// on main, where its administrator registers the published URL
	// (scripts/compose-test.sh: index SetGateway); the configurations name
	// none.
	cas := map[string]string{}
	for _, o := range cfg.Organizations {
		cas[o.MSPID] = "/crypto/" + o.Name + "/msp/cacert.pem"
	}
	for i, o := range cfg.Organizations {
		if err := nodes[i].SetPeers(peers); err != nil {
			return err
		}
		gc := gateway.Default()
		gc.MSPID, gc.Listen = o.MSPID, "0.0.0.0:8443"
		gc.Identity = "/crypto/" + o.Name + "/users/" + cryptogen.UserName(o, gwnet.GatewayUser)
		gc.CAs = cas
		gc.Node, gc.IPFS = fmt.Sprintf("node%d:7051", i), fmt.Sprintf("kubo%d:5001", i)
		gc.DataDir = "/data/state"
		gc.RequestTimeout = time.Minute
		if i == 0 {
			gc.Authority.Serve, gc.Authority.SigningKey = true, "/crypto/authority/key.pem"
		} else {
			gc.Authority.URL, gc.Authority.MSP = "https://gateway0:8443", cfg.Organizations[0].MSPID
		}
		if err := gc.Validate(); err != nil {
			return err
		}
		raw, err := yaml.Marshal(gc)
		if err != nil {
			return err
		}
		gdir := filepath.Join(*dir, fmt.Sprintf("gateway%d", i))
		if err := os.MkdirAll(filepath.Join(gdir, "state"), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(gdir, "gateway.yaml"), raw, 0o600); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(*dir, fmt.Sprintf("node%d", i)), 0o700); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "compose material in %s: crypto and swarm key, kubo0-2 repositories, gateway0-2 configurations, node0-2 data folders\n", *dir)
	return nil
}
