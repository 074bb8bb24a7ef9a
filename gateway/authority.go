package gateway

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/medshare/medshare/abe"
	"github.com/medshare/medshare/abe/tag"
	"github.com/medshare/medshare/gateway/aa"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/network/identity"
)

// MaxEnrolSkew is how far an enrolment's time may be from the
// authority's clock.
const MaxEnrolSkew = 5 * time.Minute

func (s *Server) authorityParams(c *gin.Context, _ *Principal) error {
	p, err := s.d.Authority.Params()
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, p)
}

func (s *Server) authorityTagKey(c *gin.Context, _ *Principal) error {
	tk, epoch := s.d.Authority.TagKey()
	return reply(c, http.StatusOK, api.TagKey{Key: tk[:], Epoch: epoch})
}

func (s *Server) rotateEpoch(c *gin.Context, _ *Principal) error {
	if c.Request.ContentLength > 0 {
		b, _, err := readBody(c.Request, api.JSON)
		if err != nil {
			return err
		}
		var e struct{}
		if err := decodeStrict(b, &e); err != nil {
			return err
		}
	}
	e, err := s.d.Authority.Rotate()
	if err != nil {
		return err
	}
	s.log.Info("authority epoch rotated", "epoch", e)
	return reply(c, http.StatusOK, api.Epoch{Epoch: e})
}

// enrolled checks an enrolment request: the signing certificate belongs to
// the caller (same organisation and subject as its TLS certificate), and
// its key signed the request over this connection's certificate, recently.
// It returns the signing identity.
func (s *Server) enrolled(c *gin.Context, p *Principal) (*identity.Identity, error) {
	b, _, err := readBody(c.Request, api.JSON)
	if err != nil {
		return nil, err
	}
	var req api.EnrolRequest
	if err := decodeStrict(b, &req); err != nil {
		return nil, err
	}
	now := s.d.Now()
	cert, err := identity.ParseCertPEM([]byte(req.Certificate))
	if err != nil {
		return nil, invalid("certificate", "not a PEM certificate")
	}
	sid, err := s.d.Membership.Validate(p.ID.MSPID(), cert.Raw, now)
	if err != nil {
		return nil, forbidden("the signing certificate is not a valid certificate of %s", p.ID.MSPID())
	}
	if sid.Certificate().Subject.String() != p.ID.Certificate().Subject.String() || sid.Role() != p.ID.Role() {
		return nil, forbidden("the signing certificate names another holder than the TLS certificate")
	}
	if req.Time.IsZero() || req.Time.Sub(now).Abs() > MaxEnrolSkew {
		return nil, invalid("time", "must be within %s of the authority's clock", MaxEnrolSkew)
	}
	d := api.EnrolDigest(p.TLSCert, req.Time)
	if err := identity.VerifyDigest(sid.PublicKey(), d[:], req.Signature); err != nil {
		return nil, forbidden("signature: does not verify under the signing certificate's key over this connection's certificate")
	}
	return sid, nil
}

func (s *Server) enrolUser(c *gin.Context, p *Principal) error {
	sid, err := s.enrolled(c, p)
	if err != nil {
		return err
	}
	subject, err := x509.MarshalPKIXPublicKey(sid.PublicKey())
	if err != nil {
		return err
	}
	e, err := s.d.Authority.Issue(s.d.Rand, sid.ID(), subject, aa.UserAttributes(sid, aa.Schema()), s.d.Now())
	if err != nil {
		if errors.Is(err, aa.ErrNoAttributes) {
			return invalid("certificate", "the certificate carries no attribute to certify")
		}
		return invalid("certificate", "%v", err)
	}
	s.log.Info("issued a user key and credential", "user", sid.String(), "epoch", e.Epoch)
	return reply(c, http.StatusCreated, e)
}

func (s *Server) enrolCustodian(c *gin.Context, p *Principal) error {
	sid, err := s.enrolled(c, p)
	if err != nil {
		return err
	}
	subject, err := x509.MarshalPKIXPublicKey(sid.PublicKey())
	if err != nil {
		return err
	}
	e, err := s.d.Authority.Issue(s.d.Rand, sid.ID(), subject, []tag.Attribute{{Name: aa.CustodianAttribute, Value: aa.OrgValue(sid.MSPID())}}, s.d.Now())
	if err != nil {
		return err
	}
	s.log.Info("issued a custodian key", "owner", sid.String(), "epoch", e.Epoch)
	return reply(c, http.StatusCreated, e)
}

// ParamsOf decodes the authority's public parameters.
func ParamsOf(raw *api.AuthorityParams) (*Params, error) {
	sch, err := abe.New(raw.Scheme)
	if err != nil {
		return nil, err
	}
	pk, err := abe.ParsePublicKey(raw.PublicKey)
	if err != nil {
		return nil, err
	}
	var specs []tag.Spec
	for _, a := range raw.Schema {
		specs = append(specs, tag.Spec{Name: a.Name, Ordered: a.Ordered, Max: a.Max, Values: a.Values})
	}
	schema, err := tag.NewSchema(specs...)
	if err != nil {
		return nil, err
	}
	return &Params{Scheme: sch, PublicKey: pk, Epoch: raw.Epoch, Schema: schema, Raw: raw}, nil
}

// AuthoritySource is where Keys gets the authority's answers: the
// authority served in process, or its gateway over HTTPS
// (gateway/client.Client implements it).
type AuthoritySource interface {
	AuthorityParams(ctx context.Context) (*api.AuthorityParams, error)
	AuthorityTagKey(ctx context.Context) (*api.TagKey, error)
	EnrolCustodian(ctx context.Context, signer *identity.Signer) (*api.Enrolment, error)
}

// LocalAuthority serves AuthoritySource from the authority this process
// runs.
type LocalAuthority struct {
	Service *aa.Service
	Now     func() time.Time
}

// AuthorityParams implements AuthoritySource.
func (l LocalAuthority) AuthorityParams(context.Context) (*api.AuthorityParams, error) {
	return l.Service.Params()
}

// AuthorityTagKey implements AuthoritySource.
func (l LocalAuthority) AuthorityTagKey(context.Context) (*api.TagKey, error) {
	tk, e := l.Service.TagKey()
	return &api.TagKey{Key: tk[:], Epoch: e}, nil
}

// EnrolCustodian implements AuthoritySource.
func (l LocalAuthority) EnrolCustodian(_ context.Context, signer *identity.Signer) (*api.Enrolment, error) {
	subject, err := x509.MarshalPKIXPublicKey(&signer.PrivateKey().PublicKey)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	return l.Service.Issue(rand.Reader, signer.ID(), subject, []tag.Attribute{{Name: aa.CustodianAttribute, Value: aa.OrgValue(signer.MSPID())}}, now())
}

// keyring is an owner gateway's Keys: the authority's parameters (cached
// for paramsTTL), its tag key, and the gateway's custodian keys, one per
// epoch, kept in <dataDir>/custodian-keys.json with mode 0600 (a recall
// needs the key of the epoch a record was encrypted in).
type keyring struct {
	src    AuthoritySource
	signer *identity.Signer
	path   string
	ttl    time.Duration

	now func() time.Time

	mu      sync.Mutex
	params  *Params
	fetched time.Time
	tk      *tag.Key
	keys    map[uint64][]byte
}

// paramsTTL is how long the authority's parameters are reused; after an
// epoch rotation an owner's gateway may encrypt under the previous epoch
// for that long. paramsMaxStale is how long the last parameters keep being
// used while the authority cannot be reached: after that, uploads fail
// (503) rather than go on encrypting under an epoch the authority may
// have left to revoke keys.
const (
	paramsTTL      = 10 * time.Second
	paramsMaxStale = 5 * time.Minute
)

// NewKeyring returns the Keys of an owner's gateway whose identity is
// signer, asking src, keeping custodian keys under dataDir.
func NewKeyring(src AuthoritySource, signer *identity.Signer, dataDir string) (Keys, error) {
	k := &keyring{src: src, signer: signer, path: filepath.Join(dataDir, "custodian-keys.json"), ttl: paramsTTL, now: time.Now, keys: map[uint64][]byte{}}
	raw, err := os.ReadFile(k.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("gateway: %w", err)
	default:
		if err := json.Unmarshal(raw, &k.keys); err != nil {
			return nil, fmt.Errorf("gateway: %s: %w", k.path, err)
		}
	}
	return k, nil
}

func unavailableAuthority(err error) error {
	var p *Problem
	if errors.As(err, &p) && p.Status < 500 {
		return err
	}
	return fmt.Errorf("%w: %w", ErrAuthorityUnavailable, err)
}

func (k *keyring) Params(ctx context.Context) (*Params, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	age := k.now().Sub(k.fetched)
	if k.params != nil && age < k.ttl {
		return k.params, nil
	}
	raw, err := k.src.AuthorityParams(ctx)
	if err != nil {
		if k.params != nil && age < paramsMaxStale {
			return k.params, nil // keep serving the last known parameters, for a while
		}
		return nil, unavailableAuthority(err)
	}
	p, err := ParamsOf(raw)
	if err != nil {
		return nil, err
	}
	k.params, k.fetched = p, k.now()
	return p, nil
}

func (k *keyring) TagKey(ctx context.Context) (tag.Key, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.tk != nil {
		return *k.tk, nil
	}
	t, err := k.src.AuthorityTagKey(ctx)
	if err != nil {
		return tag.Key{}, unavailableAuthority(err)
	}
	if len(t.Key) != tag.KeySize {
		return tag.Key{}, errors.New("gateway: the authority's tag key has the wrong size")
	}
	var tk tag.Key
	copy(tk[:], t.Key)
	k.tk = &tk
	return tk, nil
}

func (k *keyring) CustodianKey(ctx context.Context, epoch uint64) (*abe.UserKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if b, ok := k.keys[epoch]; ok {
		return abe.ParseUserKey(b)
	}
	e, err := k.src.EnrolCustodian(ctx, k.signer)
	if err != nil {
		return nil, unavailableAuthority(err)
	}
	if e.Epoch != epoch {
		return nil, fmt.Errorf("gateway: no custodian key for epoch %d (the authority is at epoch %d)", epoch, e.Epoch)
	}
	uk, err := abe.ParseUserKey(e.Key)
	if err != nil {
		return nil, err
	}
	k.keys[epoch] = e.Key
	raw, err := json.Marshal(k.keys)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(k.path), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(k.path+".tmp", raw, 0o600); err != nil {
		return nil, err
	}
	if err := os.Rename(k.path+".tmp", k.path); err != nil {
		return nil, err
	}
	return uk, nil
}
