package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/medshare/medshare/abe"
	"github.com/medshare/medshare/gateway/aa"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/network/identity"
)

// flakyAuthority is an AuthoritySource that can be made unreachable.
type flakyAuthority struct {
	LocalAuthority
	down bool
}

func (f *flakyAuthority) AuthorityParams(ctx context.Context) (*api.AuthorityParams, error) {
	if f.down {
		return nil, errors.New("connection refused")
	}
	return f.LocalAuthority.AuthorityParams(ctx)
}

func (f *flakyAuthority) EnrolCustodian(ctx context.Context, s *identity.Signer) (*api.Enrolment, error) {
	return f.LocalAuthority.EnrolCustodian(ctx, s)
}

// TestStaleAuthorityParametersExpire: while the authority cannot be
// reached an owner's gateway keeps its last parameters for a while, then
// refuses (503) rather than go on encrypting under an epoch the authority
// may have left.
func TestStaleAuthorityParametersExpire(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := aa.Open(rand.Reader, t.TempDir()+"/aa.json", key, abe.MSC, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	src := &flakyAuthority{LocalAuthority: LocalAuthority{Service: svc}}
	ks, err := NewKeyring(src, nil, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	k := ks.(*keyring)
	k.now = func() time.Time { return now }
	ctx := context.Background()
	if _, err := k.Params(ctx); err != nil {
		t.Fatal(err)
	}
	src.down = true
	for _, tc := range []struct {
		after time.Duration
		ok    bool
	}{{time.Second, true}, {time.Minute, true}, {paramsMaxStale - time.Second, true}, {paramsMaxStale + time.Second, false}} {
		now = time.Now().Add(tc.after)
		_, err := k.Params(ctx)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrAuthorityUnavailable)) {
			t.Fatalf("%v after the last fetch with the authority down: %v", tc.after, err)
		}
	}
	src.down = false
	if p, err := k.Params(ctx); err != nil || p.Epoch != 1 {
		t.Fatalf("once the authority is back: %v, %v", p, err)
	}
}
