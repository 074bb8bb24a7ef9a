package aa

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/medshare/medshare/abe"
	"github.com/medshare/medshare/abe/authority"
	"github.com/medshare/medshare/abe/credential"
	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
)

func newService(t *testing.T) (*Service, string, *ecdsa.PrivateKey) {
	t.Helper()
	signer, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "aa", "state.json")
	s, err := Open(rand.Reader, path, signer, abe.MSC, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return s, path, signer
}

func TestOpenCreatesAndReloads(t *testing.T) {
	s, path, signer := newService(t)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if s.Epoch() != 1 {
		t.Fatalf("epoch = %d, want 1", s.Epoch())
	}
	if e, err := s.Rotate(); err != nil || e != 2 {
		t.Fatalf("Rotate = %d, %v", e, err)
	}
	p1, _ := s.Params()
	tk1, _ := s.TagKey()
	again, err := Open(rand.Reader, path, signer, abe.MSC, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := again.Params()
	tk2, _ := again.TagKey()
	if string(p1.PublicKey) != string(p2.PublicKey) || tk1 != tk2 || again.Epoch() != 2 {
		t.Fatal("reloaded authority differs from the saved one")
	}
	vk, _ := x509.MarshalPKIXPublicKey(&signer.PublicKey)
	if string(p2.VerifyKey) != string(vk) {
		t.Fatal("verify key is not the configured signing key")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(rand.Reader, path, signer, abe.MSC, time.Hour); !errors.Is(err, ErrStateMode) {
		t.Fatalf("world-readable state: err = %v, want ErrStateMode", err)
	}
}

func TestIssueAndOwnerPolicy(t *testing.T) {
	s, _, signer := newService(t)
	now := time.Now()
	userKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	subject, _ := x509.MarshalPKIXPublicKey(&userKey.PublicKey)
	nurse, err := s.Issue(rand.Reader, "x509::CN=someone::CN=ca", subject, []tag.Attribute{{Name: "role", Value: "nurse"}, {Name: "trust", Value: "1"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	w, err := credential.UnmarshalWallet(nurse.Wallet)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Verify(&signer.PublicKey, now); err != nil {
		t.Fatalf("credential does not verify under the signing key: %v", err)
	}
	custodian, err := s.Issue(rand.Reader, "x509::CN=someone::CN=ca", subject, []tag.Attribute{{Name: CustodianAttribute, Value: OrgValue("Hospital1MSP")}}, now)
	if err != nil {
		t.Fatal(err)
	}
	rp, err := policy.ParseRecord("low: role = nurse or role = doctor; medium: trust >= 2; high: specialty = cardiology")
	if err != nil {
		t.Fatal(err)
	}
	owned, err := OwnerPolicy(rp, "Hospital1MSP")
	if err != nil {
		t.Fatal(err)
	}
	tk, epoch := s.TagKey()
	hidden, err := authority.HidePolicy(owned, Schema(), tk, epoch)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.Params()
	pk, _ := abe.ParsePublicKey(p.PublicKey)
	sch, _ := abe.New(abe.MSC)
	ct, err := sch.Encrypt(rand.Reader, pk, hidden, []byte("rec#v1"), abe.Levels{[]byte("low"), []byte("medium"), []byte("high")})
	if err != nil {
		t.Fatal(err)
	}
	ck, _ := abe.ParseUserKey(custodian.Key)
	opened, err := sch.Decrypt(ck, ct, []byte("rec#v1"))
	if err != nil || opened.Top != policy.High || string(opened.Data[policy.High]) != "high" {
		t.Fatalf("custodian key: top %v, err %v; want every level", opened.Top, err)
	}
	nk, _ := abe.ParseUserKey(nurse.Key)
	opened, err = sch.Decrypt(nk, ct, []byte("rec#v1"))
	if err != nil || opened.Top != policy.Low {
		t.Fatalf("nurse key: top %v, err %v; want low only", opened.Top, err)
	}
	// Another hospital's custodian opens nothing.
	other, _ := s.Issue(rand.Reader, "x509::CN=someone::CN=ca", subject, []tag.Attribute{{Name: CustodianAttribute, Value: OrgValue("Hospital2MSP")}}, now)
	ok, _ := abe.ParseUserKey(other.Key)
	if _, err := sch.Decrypt(ok, ct, []byte("rec#v1")); !errors.Is(err, abe.ErrNotAuthorized) {
		t.Fatalf("another custodian: err = %v, want not authorised", err)
	}
	if _, err := s.Issue(rand.Reader, "x509::CN=someone::CN=ca", subject, nil, now); !errors.Is(err, ErrNoAttributes) {
		t.Fatalf("no attributes: err = %v", err)
	}
}
