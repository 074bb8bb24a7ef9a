package main

import (
	"bytes"
	"crypto/rand"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medshare/medshare/network/cryptogen"
	"github.com/medshare/medshare/network/identity"
)

// demoCrypto generates network/crypto-config.yaml's material in a test folder.
func demoCrypto(t *testing.T) string {
	t.Helper()
	out := t.TempDir()
	cfg, err := cryptogen.Load(filepath.Join(repoRoot, "network", "crypto-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cryptogen.Generate(cfg, out, rand.Reader, time.Now()); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRotateTLS(t *testing.T) {
	out := demoCrypto(t)
	gw := identity.Dir(filepath.Join(out, "hospital2", "users", "gateway@hospital2.example"))
	before, err := identity.ReadCertFile(gw.TLSCertFile())
	if err != nil {
		t.Fatal(err)
	}
	signBefore, err := identity.ReadCertFile(gw.CertFile())
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(out, "hospital2", "ca")
	var msg strings.Builder
	if err := runCrypto([]string{"rotate-tls", "--ca", ca, "--id", string(gw), "--validity", "48h"}, &msg); err != nil {
		t.Fatal(err)
	}
	after, err := identity.ReadCertFile(gw.TLSCertFile())
	if err != nil {
		t.Fatal(err)
	}
	if after.SerialNumber.Cmp(before.SerialNumber) == 0 || bytes.Equal(after.RawSubjectPublicKeyInfo, before.RawSubjectPublicKeyInfo) {
		t.Fatal("the certificate or its key did not change")
	}
	if after.Subject.String() != before.Subject.String() || !slices.Equal(after.DNSNames, before.DNSNames) || len(after.IPAddresses) != len(before.IPAddresses) {
		t.Fatalf("subject or hosts changed: %v %v → %v %v", before.Subject, before.DNSNames, after.Subject, after.DNSNames)
	}
	if d := time.Until(after.NotAfter); d > 48*time.Hour || d < 47*time.Hour {
		t.Fatalf("valid for %v, want 48h", d)
	}
	// The same role and attributes, issued by the organisation's CA.
	caCert, _ := identity.ReadCertFile(filepath.Join(ca, "cert.pem"))
	msp, _ := identity.NewMSP("Hospital2MSP", caCert)
	oldID, err := msp.Validate(before.Raw, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	newID, err := msp.Validate(after.Raw, time.Now())
	if err != nil {
		t.Fatalf("the new certificate does not validate: %v", err)
	}
	if newID.Role() != oldID.Role() || !maps.Equal(newID.Attributes(), oldID.Attributes()) {
		t.Fatalf("role or attributes changed: %v %v → %v %v", oldID.Role(), oldID.Attributes(), newID.Role(), newID.Attributes())
	}
	// The key pair loads, and the signing certificate is untouched.
	if _, err := cryptogen.LoadTLS(gw); err != nil {
		t.Fatalf("new key pair: %v", err)
	}
	if signAfter, _ := identity.ReadCertFile(gw.CertFile()); !bytes.Equal(signAfter.Raw, signBefore.Raw) {
		t.Fatal("the signing certificate changed")
	}

	// Another organisation's CA cannot rotate it, and nothing changes.
	other := filepath.Join(out, "hospital1", "ca")
	if err := runCrypto([]string{"rotate-tls", "--ca", other, "--id", string(gw)}, io.Discard); err == nil {
		t.Fatal("hospital 1's CA rotated hospital 2's gateway certificate")
	}
	if again, _ := identity.ReadCertFile(gw.TLSCertFile()); !bytes.Equal(again.Raw, after.Raw) {
		t.Fatal("a refused rotation changed the certificate")
	}
	for _, bad := range [][]string{{"--id", string(gw)}, {"--ca", ca}, {"--ca", ca, "--id", string(gw), "--validity", "-1h"}} {
		if err := runCrypto(append([]string{"rotate-tls"}, bad...), io.Discard); err == nil {
			t.Errorf("rotate-tls %v succeeded", bad)
		}
	}
}

// TestChaincodeInitFromPublicKey: an organisation that holds only the
// attribute authority's public key (pub.pem, what it receives) prints the
// same configuration as the authority's own organisation.
func TestChaincodeInitFromPublicKey(t *testing.T) {
	out := demoCrypto(t)
	init := func() string {
		var b strings.Builder
		if err := runChaincode([]string{"init", "--crypto", out, "--channel", "side-high", "--name", "ptl"}, &b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	both := init()
	if err := os.Remove(filepath.Join(cryptogen.AuthorityDir(out), "key.pem")); err != nil {
		t.Fatal(err)
	}
	if only := init(); only != both {
		t.Fatalf("with the public key only:\n%s\nwith the key pair:\n%s", only, both)
	}
	if err := os.WriteFile(filepath.Join(cryptogen.AuthorityDir(out), "pub.pem"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := runChaincode([]string{"init", "--crypto", out, "--channel", "side-high", "--name", "ptl"}, io.Discard); err == nil {
		t.Fatal("a junk pub.pem was accepted")
	}
}
