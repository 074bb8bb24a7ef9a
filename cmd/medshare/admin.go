package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/medshare/medshare/internal/kubo"
	"github.com/medshare/medshare/network/chain"
	"github.com/medshare/medshare/network/channel"
	"github.com/medshare/medshare/network/client"
	"github.com/medshare/medshare/network/cryptogen"
	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/ledger"
	"github.com/medshare/medshare/network/lifecycle"
	"github.com/medshare/medshare/network/pb"
)

// listFlag collects a repeated string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// connFlags are the flags of commands that talk to a node.
type connFlags struct {
	node   string
	id     string
	crypto string
}

func (c *connFlags) register(fs *flag.FlagSet, idFlag, idHelp string) {
	fs.StringVar(&c.node, "node", "127.0.0.1:7051", "node API address")
	fs.StringVar(&c.id, idFlag, "", idHelp)
	fs.StringVar(&c.crypto, "crypto", "run/crypto", "crypto directory whose organisation CAs are trusted for the node's TLS certificate")
}

// cryptoRoots reads every organisation CA under a crypto directory.
func cryptoRoots(dir string) ([]*x509.Certificate, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*", "msp", "cacert.pem"))
	if err != nil {
		return nil, err
	}
	var roots []*x509.Certificate
	for _, f := range files {
		c, err := identity.ReadCertFile(f)
		if err != nil {
			return nil, err
		}
		roots = append(roots, c)
	}
	return roots, nil
}

func (c *connFlags) dial() (*grpc.ClientConn, *identity.Signer, error) {
	if c.id == "" {
		return nil, nil, errors.New("an identity directory is required")
	}
	dir := identity.Dir(c.id)
	s, err := dir.LoadSigner()
	if err != nil {
		return nil, nil, err
	}
	roots, err := cryptoRoots(c.crypto)
	if err != nil {
		return nil, nil, err
	}
	conn, err := client.DialIdentity(c.node, dir, roots...)
	if err != nil {
		return nil, nil, err
	}
	return conn, s, nil
}

func (c *connFlags) gateway() (*client.Gateway, *grpc.ClientConn, error) {
	conn, s, err := c.dial()
	if err != nil {
		return nil, nil, err
	}
	id := client.Signer{S: s}
	gw, err := client.Connect(id, client.WithSign(id.Sign), client.WithClientConnection(conn))
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return gw, conn, nil
}

func runCrypto(args []string, stdout io.Writer) error {
	verb, args, err := subcommand(args, "generate", "rotate-tls")
	if err != nil {
		return err
	}
	if verb == "rotate-tls" {
		return runRotateTLS(args, stdout)
	}
	fs := flag.NewFlagSet("crypto generate", flag.ContinueOnError)
	config := fs.String("config", "network/crypto-config.yaml", "organisations to generate (YAML)")
	out := fs.String("out", "run/crypto", "output directory; must be empty")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := cryptogen.Load(*config)
	if err != nil {
		return err
	}
	if err := cryptogen.Generate(cfg, *out, rand.Reader, time.Now()); err != nil {
		return err
	}
	// The IPFS swarm key: every organisation's kubo joins the private swarm with it.
	if err := kubo.WriteSwarmKey(filepath.Join(*out, kubo.SwarmKeyFile), rand.Reader); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "crypto material for %d organisations and the IPFS swarm key written to %s\n", len(cfg.Organizations), *out)
	return nil
}

func runChannel(args []string, stdout io.Writer) error {
	verb, args, err := subcommand(args, "create", "join", "list")
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("channel "+verb, flag.ContinueOnError)
	var cf connFlags
	switch verb {
	case "create":
		profile := fs.String("profile", "network/configtx.yaml", "channel profile (YAML)")
		crypto := fs.String("crypto", "run/crypto", "crypto directory the profile's CA files are in")
		name := fs.String("channel", "", "channel to create")
		admin := fs.String("admin", "", "identity directory of the administrator who signs the genesis block")
		out := fs.String("out", "", "genesis block file to write (default run/channels/CHANNEL.block)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		p, err := channel.LoadProfile(*profile, *crypto)
		if err != nil {
			return err
		}
		cfg, err := p.Config(*name)
		if err != nil {
			return err
		}
		signer, err := identity.Dir(*admin).LoadSigner()
		if err != nil {
			return err
		}
		g, err := channel.Genesis(cfg, signer, time.Now())
		if err != nil {
			return err
		}
		raw, err := proto.Marshal(g)
		if err != nil {
			return err
		}
		path := *out
		if path == "" {
			path = filepath.Join("run", "channels", *name+".block")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "genesis block of %s (%d organisations, %d nodes) written to %s\n", *name, len(cfg.GetOrganizations()), len(cfg.GetNodes()), path)
		return nil
	case "join":
		cf.register(fs, "admin", "identity directory of an administrator of the node's organisation")
		blockFile := fs.String("block", "", "genesis block file")
		if err := fs.Parse(args); err != nil {
			return err
		}
		raw, err := os.ReadFile(*blockFile)
		if err != nil {
			return err
		}
		g := new(pb.Block)
		if err := proto.Unmarshal(raw, g); err != nil {
			return fmt.Errorf("%s: %w", *blockFile, err)
		}
		conn, _, err := cf.dial()
		if err != nil {
			return err
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, err := pb.NewAdminClient(conn).JoinChannel(ctx, &pb.JoinChannelRequest{Genesis: g})
		if err != nil {
			return fmt.Errorf("join %s: %w", cf.node, err)
		}
		fmt.Fprintf(stdout, "node %s joined channel %s\n", cf.node, resp.GetChannel())
		return nil
	default: // list
		cf.register(fs, "id", "identity directory")
		if err := fs.Parse(args); err != nil {
			return err
		}
		conn, _, err := cf.dial()
		if err != nil {
			return err
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := pb.NewAdminClient(conn).ListChannels(ctx, &pb.ListChannelsRequest{})
		if err != nil {
			return err
		}
		for _, c := range resp.GetChannels() {
			fmt.Fprintln(stdout, c)
		}
		return nil
	}
}

func runChaincode(args []string, stdout io.Writer) error {
	verb, args, err := subcommand(args, "approve", "commit", "query", "init")
	if err != nil {
		return err
	}
	if verb == "init" {
		return runChaincodeInit(args, stdout)
	}
	fs := flag.NewFlagSet("chaincode "+verb, flag.ContinueOnError)
	var cf connFlags
	cf.register(fs, "admin", "identity directory of an administrator")
	ch := fs.String("channel", "", "channel")
	name := fs.String("name", "", "chaincode name")
	version := fs.String("version", "1", "chaincode version (approve)")
	sequence := fs.Uint64("sequence", 1, "definition sequence (approve)")
	initFn := fs.String("init-fn", "", "function the commit calls once (approve)")
	var initArgs listFlag
	fs.Var(&initArgs, "init-arg", "argument of the init function; repeat for several (approve)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	gw, conn, err := cf.gateway()
	if err != nil {
		return err
	}
	defer conn.Close()
	lc := gw.GetNetwork(*ch).GetContract(lifecycle.Name)
	switch verb {
	case "approve":
		def := &pb.ChaincodeDefinition{Name: *name, Version: *version, Sequence: *sequence, InitFunction: *initFn}
		for _, a := range initArgs {
			def.InitArgs = append(def.InitArgs, []byte(a))
		}
		raw, err := lifecycle.EncodeDefinition(def)
		if err != nil {
			return err
		}
		if _, err := lc.Submit(lifecycle.FnApprove, client.WithBytesArguments(raw)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s approved %s v%s sequence %d on %s\n", gw.Identity().MspID(), *name, *version, *sequence, *ch)
	case "commit":
		if _, err := lc.SubmitTransaction(lifecycle.FnCommit, *name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s committed on %s\n", *name, *ch)
	default:
		raw, err := lc.EvaluateTransaction(lifecycle.FnQueryCommitted, *name)
		if err != nil {
			return err
		}
		def := new(pb.ChaincodeDefinition)
		if err := proto.Unmarshal(raw, def); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: version %s, sequence %d, init %q\n", def.GetName(), def.GetVersion(), def.GetSequence(), def.GetInitFunction())
	}
	return nil
}

func runTx(args []string, stdout io.Writer) error {
	verb, args, err := subcommand(args, "submit", "query")
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("tx "+verb, flag.ContinueOnError)
	var cf connFlags
	cf.register(fs, "id", "identity directory of the client")
	ch := fs.String("channel", "", "channel")
	cc := fs.String("chaincode", "", "chaincode")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("usage: medshare tx submit|query [flags] FUNCTION [ARG...]")
	}
	gw, conn, err := cf.gateway()
	if err != nil {
		return err
	}
	defer conn.Close()
	contract := gw.GetNetwork(*ch).GetContract(*cc)
	var out []byte
	if verb == "submit" {
		out, err = contract.SubmitTransaction(fs.Arg(0), fs.Args()[1:]...)
	} else {
		out, err = contract.EvaluateTransaction(fs.Arg(0), fs.Args()[1:]...)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(out))
	return nil
}

func runStatus(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	var cf connFlags
	cf.register(fs, "id", "identity directory (any member)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	conn, _, err := cf.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := pb.NewAdminClient(conn).Health(ctx, &pb.HealthRequest{})
	if err != nil {
		return fmt.Errorf("%s: %w", cf.node, err)
	}
	fmt.Fprintf(stdout, "node %s at %s\n", h.GetNodeId(), cf.node)
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHANNEL\tHEIGHT\tBLOCK HASH\tSTATE HASH\tLEADER\tSTATUS")
	for _, c := range h.GetChannels() {
		st := "ok"
		switch {
		case c.GetHalted():
			st = "HALTED: " + c.GetAlert() + " (stop the node, then: medshare ledger recover --dir DATA/channels/" + c.GetChannel() + ")"
		case c.GetCatchingUp():
			st = "catching up (serves no reads yet)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%x\t%x\t%s\t%s\n", c.GetChannel(), c.GetHeight(), c.GetCurrentHash()[:8], c.GetStateHash()[:8], c.GetLeader(), st)
	}
	tw.Flush()
	for _, a := range h.GetAlerts() {
		fmt.Fprintln(stdout, "ALERT:", a)
	}
	return nil
}

func runLedger(args []string, stdout io.Writer) error {
	verb, args, err := subcommand(args, "verify", "recover")
	if err != nil {
		return err
	}
	if verb == "recover" {
		return runLedgerRecover(args, stdout)
	}
	fs := flag.NewFlagSet("ledger verify", flag.ContinueOnError)
	dir := fs.String("dir", "", "a channel's ledger directory (DATA/channels/CHANNEL/ledger); the node must be stopped")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("--dir is required")
	}
	s, err := ledger.OpenReadOnly(*dir, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	rep, err := s.Verify(context.Background())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "channel %s: %d blocks, %d transactions, %d state keys\n", rep.Channel, rep.Blocks, rep.Transactions, rep.StateKeys)
	fmt.Fprintf(stdout, "last block hash %x\nstate hash      %x\n", rep.LastHash, rep.StateHash)
	if rep.OK() {
		fmt.Fprintln(stdout, "OK: every hash, Merkle root, signature and state value verifies")
		return nil
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(stdout, "FAIL:", p)
	}
	return fmt.Errorf("ledger verification failed: first failing block is %d", rep.Problems[0].Block)
}

// runLedgerRecover prepares a halted (or suspect) channel of a stopped node
// to rejoin the channel: see chain.Recover.
func runLedgerRecover(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("ledger recover", flag.ContinueOnError)
	dir := fs.String("dir", "", "a channel's directory (DATA/channels/CHANNEL, holding ledger/ and raft/); the node must be stopped")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("--dir is required")
	}
	rep, err := chain.Recover(*dir, nil)
	if rep != nil {
		if rep.WasHalted {
			fmt.Fprintf(stdout, "halted: %s\n", rep.HaltReason)
		} else {
			fmt.Fprintln(stdout, "not halted")
		}
		if v := rep.Verified; v != nil {
			fmt.Fprintf(stdout, "channel %s: %d blocks, %d transactions, %d state keys\n", v.Channel, v.Blocks, v.Transactions, v.StateKeys)
			for _, p := range v.Problems {
				fmt.Fprintln(stdout, "FAIL:", p)
			}
		}
	}
	if err != nil {
		return err
	}
	if rep.Kept < rep.Held || rep.Damaged != "" {
		fmt.Fprintf(stdout, "rebuilt the ledger from blocks 0..%d (of %d); the damaged store is in %s (inspect it, then delete it)\n", rep.Kept-1, rep.Held, rep.Damaged)
	} else {
		fmt.Fprintf(stdout, "the ledger verifies: kept all %d blocks\n", rep.Held)
	}
	fmt.Fprintln(stdout, "OK: halt cleared; start the node: it fetches or re-executes the blocks it lacks and rejoins the channel")
	return nil
}
