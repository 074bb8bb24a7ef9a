// Command medshare runs and administers the medshare ledger network.
//
//	medshare node --config node.yaml           run a node
//	medshare crypto generate | rotate-tls ...  create certificates and keys; renew a TLS certificate
//	medshare channel create|join|list ...      make and join channels
//	medshare chaincode approve|commit|deploy   enable chaincode on a channel
//	medshare tx submit|query ...               call chaincode
//	medshare status ...                        a node's health
//	medshare ledger verify --dir ...           re-verify a stopped node's ledger
//	medshare ledger recover --dir ...          repair a halted channel of a stopped node
//	medshare network run | status              the whole local system (make run): nodes, kubo, gateways, demo users
//	medshare demo                              run the contract flows on a running network
//	medshare gateway --config gateway.yaml     run an organisation's REST gateway
//	medshare enrol | whoami                    get your ABE key and credential; who the gateway sees
//	medshare import DIR                        bulk upload of a folder through the gateway (resumable)
//	medshare upload | records | access         upload, find and open records through the gateways
//	medshare violations | regrant | recall     a data owner's controls
//	medshare request | package …               MeDShare: request a package, act on it (reported)
//	medshare requests list|show|regrant|recall the owner's MeDShare requests
//	medshare audit trail|verify|warrant        the audit trail, its verification across nodes
//	medshare authority epoch | params          the attribute authority's operator
//	medshare bench ledger|chaincode|abe|gateway|medshare benchmarks
//
// Run "medshare COMMAND -h" for a command's flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	_ "time/tzdata" // chaincode time zones resolve the same way on every node
)

type command struct {
	name  string
	usage string
	run   func(args []string, stdout io.Writer) error
}

func commands() []command {
	return []command{
		{"node", "run a ledger node", runNode},
		{"crypto", "generate certificates and keys (crypto generate); issue a member a new TLS certificate (crypto rotate-tls)", runCrypto},
		{"channel", "create, join and list channels", runChannel},
		{"chaincode", "approve, commit and query chaincode definitions; print the medshare chaincodes' Init arguments", runChaincode},
		{"tx", "submit or query a chaincode function", runTx},
		{"status", "show a node's channels, heights, leaders and alerts", runStatus},
		{"ledger", "verify a stopped node's ledger (ledger verify), recover a halted channel (ledger recover)", runLedger},
		{"network", "the whole local system: network run (make run) | network status | network compose-init (docker-compose)", runNetwork},
		{"demo", "run the contract flows (store, access, MeDShare, revocation) on a network started by scripts/network.sh up", runDemo},
		{"gateway", "run an organisation's REST gateway (--config gateway.yaml)", runGateway},
		{"whoami", "show who your gateway sees (role, organisation, attributes)", runWhoami},
		{"enrol", "get your ABE key and tag credential from the attribute authority's gateway", runEnrol},
		{"upload", "upload a FHIR or JSON record (data owner)", runUpload},
		{"import", "upload every FHIR or JSON file of a folder, concurrently, resumably (data owner)", runImport},
		{"records", "search the index, or show one record (records show ID)", runRecords},
		{"access", "open a record: proofs, P-TL, IPFS, checkCode, decryption (data user)", runAccess},
		{"violations", "list the violations on your records (data owner)", runViolations},
		{"regrant", "lift a user's block on a record (data owner)", runRegrant},
		{"recall", "re-encrypt a record and block a user (data owner)", runRecall},
		{"authority", "the attribute authority's operator: authority epoch | params", runAuthority},
		{"request", "MeDShare: request a de-identified package of records for a purpose (requestor)", runRequest},
		{"package", "MeDShare: list | open | read | export | copy | write | duplicate | move | delete | report a held package (each action reported)", runPackage},
		{"requests", "MeDShare: list | show | regrant | recall the requests your gateway answered (data owner)", runRequests},
		{"audit", "the audit trail: trail | verify | warrant (auditors, owners, users: each sees what the contracts allow)", runAudit},
		{"bench", "run benchmarks (bench ledger | bench chaincode | bench abe | bench gateway | bench medshare)", runBench},
	}
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "medshare:", err)
		}
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout)
		}
	}
	usage(os.Stderr)
	return fmt.Errorf("unknown command %q", args[0])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: medshare COMMAND [flags]")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.usage)
	}
}

// newLogger builds the process logger: text or JSON on standard error.
func newLogger(level, format string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		l = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// subcommand splits "verb" off args for commands with verbs.
func subcommand(args []string, verbs ...string) (string, []string, error) {
	if len(args) == 0 {
		return "", nil, fmt.Errorf("missing verb: one of %s", strings.Join(verbs, ", "))
	}
	for _, v := range verbs {
		if args[0] == v {
			return v, args[1:], nil
		}
	}
	return "", nil, fmt.Errorf("unknown verb %q: want one of %s", args[0], strings.Join(verbs, ", "))
}
