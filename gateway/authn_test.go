package gateway

import (
	"crypto/rand"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/medshare/medshare/network/identity"
)

// TestAuthenticateIssuerHint checks that authenticating through the
// issuer hint finds each organisation's members, and still refuses a
// certificate whose issuer names a member's CA but which that CA did not
// sign, and one that is not valid now.
func TestAuthenticateIssuerHint(t *testing.T) {
	now := time.Now()
	var msps []*identity.MSP
	cas := map[string]*identity.CA{}
	for _, id := range []string{"Hospital1MSP", "Hospital2MSP", "ResearchMSP"} {
		ca, err := identity.NewCA(rand.Reader, id, id, "ca."+id, now.Add(-time.Hour), now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		msp, err := identity.NewMSP(id, ca.Certificate())
		if err != nil {
			t.Fatal(err)
		}
		cas[id], msps = ca, append(msps, msp)
	}
	m, err := identity.NewMembership(msps...)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(ca *identity.CA, from, to time.Time) *x509.Certificate {
		t.Helper()
		cert, _, err := ca.Issue(rand.Reader, identity.Request{CommonName: "alice", Role: identity.RoleClient,
			Attributes: map[string]string{RoleAttribute: "user"}, TLS: true, NotBefore: from, NotAfter: to})
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	for id, ca := range cas {
		cert := issue(ca, now.Add(-time.Hour), now.Add(time.Hour))
		if got := issuerMSP(m, cert); got != id {
			t.Errorf("issuerMSP = %q, want %q", got, id)
		}
		for range 2 { // the second time through the MSP's cache
			p, err := authenticate(m, []*x509.Certificate{cert}, now)
			if err != nil {
				t.Fatalf("%s: %v", id, err)
			}
			if p.ID.MSPID() != id || p.Role != RoleUser {
				t.Fatalf("%s: got %s, role %q", id, p.ID.MSPID(), p.Role)
			}
		}
		expired := issue(ca, now.Add(-time.Hour), now.Add(-time.Minute))
		if _, err := authenticate(m, []*x509.Certificate{expired}, now); !errors.Is(err, errNoMember) {
			t.Fatalf("%s: an expired certificate: %v", id, err)
		}
	}
	// An impostor CA with the same names as Hospital1MSP's: its
	// certificates name hospital 1's CA as issuer, and must not pass.
	evil, err := identity.NewCA(rand.Reader, "Hospital1MSP", "Hospital1MSP", "ca.Hospital1MSP", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	forged := issue(evil, now.Add(-time.Hour), now.Add(time.Hour))
	if got := issuerMSP(m, forged); got != "Hospital1MSP" {
		t.Fatalf("the forged certificate's issuer hint is %q", got)
	}
	if _, err := authenticate(m, []*x509.Certificate{forged}, now); !errors.Is(err, errNoMember) {
		t.Fatalf("a certificate from an impostor CA: %v", err)
	}
	if _, err := authenticate(m, nil, now); !errors.Is(err, errUnauthenticated) {
		t.Fatalf("no certificate: %v", err)
	}
}
