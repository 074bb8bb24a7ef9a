package main

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/medshare/medshare/network/identity"
)

// runRotateTLS issues a member a new TLS certificate and key from its
// organisation's CA, with the same name, role, attributes and hosts as the
// one it replaces, and writes them in place of the old ones (each file
// replaced atomically). The signing certificate — and so the member's
// identity on the ledger — does not change. The process that serves the
// certificate (node, gateway) reads it at start: restart it.
func runRotateTLS(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("crypto rotate-tls", flag.ContinueOnError)
	caDir := fs.String("ca", "", "the organisation's CA folder (cert.pem, key.pem): <crypto>/<org>/ca")
	id := fs.String("id", "", "the identity folder whose tls/cert.pem and tls/key.pem are replaced")
	validity := fs.Duration("validity", 365*24*time.Hour, "the new certificate's validity")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *caDir == "" || *id == "" || fs.NArg() != 0 {
		return errors.New("usage: medshare crypto rotate-tls --ca CA-DIR --id IDENTITY-DIR [--validity D]")
	}
	if *validity <= 0 {
		return errors.New("--validity must be positive")
	}
	dir := identity.Dir(*id)
	caCert, err := identity.ReadCertFile(filepath.Join(*caDir, "cert.pem"))
	if err != nil {
		return err
	}
	caKey, err := identity.ReadKeyFile(filepath.Join(*caDir, "key.pem"))
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(dir.MSPIDFile())
	if err != nil {
		return err
	}
	mspID := strings.TrimSpace(string(raw))
	old, err := identity.ReadCertFile(dir.TLSCertFile())
	if err != nil {
		return err
	}
	msp, err := identity.NewMSP(mspID, caCert)
	if err != nil {
		return err
	}
	// The old certificate must be this CA's; it may have expired (that is
	// a reason to rotate), so it is read at a time it was valid.
	cur, err := msp.Validate(old.Raw, old.NotBefore.Add(time.Second))
	if err != nil {
		return fmt.Errorf("%s was not issued by the CA in %s: %w", dir.TLSCertFile(), *caDir, err)
	}
	ca, err := identity.LoadCA(mspID, caCert, caKey)
	if err != nil {
		return err
	}
	hosts := append([]string{}, old.DNSNames...)
	for _, ip := range old.IPAddresses {
		hosts = append(hosts, ip.String())
	}
	now := time.Now()
	cert, key, err := ca.Issue(rand.Reader, identity.Request{CommonName: old.Subject.CommonName, Role: cur.Role(), Attributes: cur.Attributes(),
		TLS: true, Hosts: hosts, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(*validity)})
	if err != nil {
		return err
	}
	// The key first: a crash between the two leaves the old certificate
	// with a key that does not match it, which fails loudly at start, never
	// a certificate served with a stale key.
	for _, w := range []struct {
		path  string
		write func(string) error
	}{
		{dir.TLSKeyFile(), func(p string) error { return identity.WriteKeyFile(p, key) }},
		{dir.TLSCertFile(), func(p string) error { return identity.WriteCertFile(p, cert) }},
	} {
		tmp := w.path + ".new"
		if err := w.write(tmp); err != nil {
			return err
		}
		if err := os.Rename(tmp, w.path); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "new TLS certificate for %s (serial %X, valid until %s) in %s; restart the process that serves it\n",
		old.Subject.CommonName, cert.SerialNumber, cert.NotAfter.UTC().Format(time.RFC3339), filepath.Dir(dir.TLSCertFile()))
	return nil
}
