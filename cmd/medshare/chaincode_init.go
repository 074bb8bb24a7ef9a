package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/network/cryptogen"
	"github.com/medshare/medshare/network/identity"
)

// runChaincodeInit prints the Init argument scripts/network.sh deploys a
// medshare chaincode with (txbuild.DefaultInits): the configuration a
// chaincode definition's init call carries, which a majority of the
// channel's organisations then approve.
func runChaincodeInit(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("chaincode init", flag.ContinueOnError)
	cryptoDir := fs.String("crypto", "run/crypto", "crypto directory (medshare crypto generate): the attribute authority's key and the auditors")
	ch := fs.String("channel", "", "channel: main, side-high, side-medium or side-low")
	name := fs.String("name", "", "chaincode: index on main; storage, ptl or provenance on a side channel")
	var nodes, auditors listFlag
	fs.Var(&nodes, "node", "a node of the side chains, NAME=MSPID=HOST:PORT; repeat for each (index)")
	fs.Var(&auditors, "auditor", "identity directory of an auditor; repeat for each (default: every users/auditor@* of the crypto directory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *ch == "" || *name == "" {
		return errors.New("usage: medshare chaincode init --channel CHANNEL --name NAME [--crypto DIR] [--node NAME=MSPID=HOST:PORT]... [--auditor DIR]...")
	}
	der, err := authorityPublicKey(cryptogen.AuthorityDir(*cryptoDir))
	if err != nil {
		return fmt.Errorf("chaincode init: the attribute authority's key: %w", err)
	}
	var ns []index.Node
	for _, n := range nodes {
		parts := strings.SplitN(n, "=", 3)
		if len(parts) != 3 {
			return fmt.Errorf("chaincode init: --node %q: want NAME=MSPID=HOST:PORT", n)
		}
		ns = append(ns, index.Node{Name: parts[0], Org: parts[1], Address: parts[2]})
	}
	ids, err := auditorIDs(*cryptoDir, auditors)
	if err != nil {
		return err
	}
	calls, err := txbuild.DefaultInits(der, ns, txbuild.DefaultMonitor, ids)
	if err != nil {
		return err
	}
	for _, c := range calls {
		if c.Channel == *ch && c.Chaincode == *name {
			fmt.Fprintln(stdout, c.Args[0])
			return nil
		}
	}
	return fmt.Errorf("chaincode init: no medshare chaincode %s on channel %s", *name, *ch)
}

// auditorIDs returns the unique names of the identities in dirs, or of
// every "auditor" user of the crypto directory when dirs is empty, sorted.
func auditorIDs(cryptoDir string, dirs []string) ([]string, error) {
	if len(dirs) == 0 {
		var err error
		if dirs, err = filepath.Glob(filepath.Join(cryptoDir, "*", "users", "auditor@*")); err != nil {
			return nil, err
		}
	}
	ids := []string{}
	for _, d := range dirs {
		s, err := identity.Dir(d).LoadSigner()
		if err != nil {
			return nil, fmt.Errorf("chaincode init: auditor %s: %w", d, err)
		}
		ids = append(ids, s.ID())
	}
	sort.Strings(ids)
	return ids, nil
}

// authorityPublicKey returns the attribute authority's credential-signing
// public key (PKIX DER) from its folder: pub.pem, which is all that other
// organisations receive (docs/operations.md), or else the key pair.
func authorityPublicKey(dir string) ([]byte, error) {
	if raw, err := os.ReadFile(filepath.Join(dir, "pub.pem")); err == nil {
		b, _ := pem.Decode(raw)
		if b == nil || b.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("%s: not a PEM public key", filepath.Join(dir, "pub.pem"))
		}
		if _, err := x509.ParsePKIXPublicKey(b.Bytes); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "pub.pem"), err)
		}
		return b.Bytes, nil
	}
	aa, err := identity.ReadKeyFile(filepath.Join(dir, "key.pem"))
	if err != nil {
		return nil, err
	}
	return x509.MarshalPKIXPublicKey(&aa.PublicKey)
}
