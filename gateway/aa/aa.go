// Package aa is the attribute authority as a gateway serves it: the
// authority's keys (ABE master key, tag key, credential-signing key) kept
// in a state file with 0600 permissions, the current epoch, and issuance of
// ABE keys and tag credentials for the attributes a user's certificate
// carries, bound to the user's enrolled signing key.
//
// Data owners' gateways get a custodian key: an ABE key for the single
// attribute custodian=<their MSP id, lower case>, which the owner's gateway
// adds as an alternative to every level's conditions when it encrypts
// (OwnerPolicy), so that it can open what it uploaded (for recall and for
// MeDShare packages) without keeping any plaintext.
package aa

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/medshare/medshare/abe"
	"github.com/medshare/medshare/abe/authority"
	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/network/identity"
)

// CustodianAttribute is the attribute of a data owner's custodian key.
const CustodianAttribute = "custodian"

// Errors.
var (
	// ErrNoAttributes: the certificate carries no attribute the schema
	// knows, so there is nothing to certify.
	ErrNoAttributes = errors.New("aa: the certificate carries no schema attribute")
	// ErrStateMode: the state file is readable by others than its owner.
	ErrStateMode = errors.New("aa: the state file must have mode 0600")
)

// Schema is the attribute schema of the gateways: the paper's (identity
// and trust levels 1..3, specialty, role, org) and custodian.
func Schema() *tag.Schema {
	s, err := tag.NewSchema(
		tag.Spec{Name: "identity", Ordered: true, Max: 3},
		tag.Spec{Name: "trust", Ordered: true, Max: 3},
		tag.Spec{Name: "specialty"},
		tag.Spec{Name: "role"},
		tag.Spec{Name: "org"},
		tag.Spec{Name: CustodianAttribute},
	)
	if err != nil {
		return tag.DefaultSchema() // unreachable: the literal is valid
	}
	return s
}

// OrgValue is the attribute value of an organisation (its MSP id in lower
// case), as org= and custodian= carry it.
func OrgValue(msp string) string { return strings.ToLower(msp) }

// UserAttributes returns the ABE attributes a data user's certificate
// attests: every certificate attribute the schema names (custodian
// excepted: only data owners' gateways get it) and org=<its MSP>.
func UserAttributes(id *identity.Identity, schema *tag.Schema) []tag.Attribute {
	var out []tag.Attribute
	attrs := id.Attributes()
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if n == CustodianAttribute || n == "org" {
			continue
		}
		if _, ok := schema.Spec(n); ok {
			out = append(out, tag.Attribute{Name: n, Value: attrs[n]})
		}
	}
	return append(out, tag.Attribute{Name: "org", Value: OrgValue(id.MSPID())})
}

// OwnerPolicy returns rp with custodian=<msp> added as an alternative to
// each level's own conditions: (L ∨ c) for low, and (M ∨ c), (H ∨ c) for the
// levels that have conditions. A holder of the custodian key satisfies every
// level; nobody else gains anything, since only the owner's gateway gets
// that key.
func OwnerPolicy(rp *policy.Record, msp string) (*policy.Record, error) {
	c, err := policy.Leaf(CustodianAttribute + "=" + OrgValue(msp))
	if err != nil {
		return nil, err
	}
	var extra [policy.NumLevels]*policy.Tree
	for _, l := range policy.Levels {
		t := rp.Extra(l)
		if t == nil {
			continue
		}
		if extra[l], err = policy.Or(t, c); err != nil {
			return nil, err
		}
	}
	return policy.NewRecord(extra[policy.Low], extra[policy.Medium], extra[policy.High])
}

// state is the state file's content: every secret of the system but the
// credential-signing key, which cryptogen keeps apart.
type state struct {
	Epoch     uint64 `json:"epoch"`
	PublicKey []byte `json:"publicKey"`
	MasterKey []byte `json:"masterKey"`
	TagKey    []byte `json:"tagKey"`
}

// Service is a running attribute authority. It is safe for concurrent use.
type Service struct {
	path     string
	validity time.Duration

	signer *ecdsa.PrivateKey

	mu    sync.RWMutex
	auth  *authority.Authority
	msk   *abe.MasterKey
	epoch uint64
}

// Open loads the authority's state from path, or creates it (ABE setup for
// scheme, a fresh tag key, epoch 1) when the file does not exist. signer is
// the credential-signing key the ledger's P-TL verifies credentials with
// (cryptogen's authority/key.pem); it replaces the one in the state, so the
// two always agree. Credentials are valid for validity from issuance.
func Open(rnd io.Reader, path string, signer *ecdsa.PrivateKey, scheme string, validity time.Duration) (*Service, error) {
	if signer == nil {
		return nil, errors.New("aa: no credential-signing key")
	}
	if validity <= 0 {
		return nil, errors.New("aa: credential validity must be positive")
	}
	s := &Service{path: path, validity: validity, signer: signer}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		sch, err := abe.New(scheme)
		if err != nil {
			return nil, err
		}
		pk, msk, err := sch.Setup(rnd)
		if err != nil {
			return nil, err
		}
		tk, err := tag.NewKey(rnd)
		if err != nil {
			return nil, err
		}
		if s.auth, err = authority.New(sch, pk, msk, tk, Schema(), signer); err != nil {
			return nil, err
		}
		s.msk = msk
		s.epoch = 1
		if err := s.save(); err != nil {
			return nil, err
		}
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("aa: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has %04o", ErrStateMode, path, fi.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("aa: %w", err)
	}
	var st state
	if err := json.Unmarshal(raw, &st); err != nil || st.Epoch == 0 || len(st.TagKey) != tag.KeySize {
		return nil, fmt.Errorf("aa: %s: not an authority state file", path)
	}
	pk, err := abe.ParsePublicKey(st.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("aa: %s: %w", path, err)
	}
	msk, err := abe.ParseMasterKey(st.MasterKey)
	if err != nil {
		return nil, fmt.Errorf("aa: %s: %w", path, err)
	}
	sch, err := abe.New(msk.Scheme())
	if err != nil {
		return nil, err
	}
	var tk tag.Key
	copy(tk[:], st.TagKey)
	if s.auth, err = authority.New(sch, pk, msk, tk, Schema(), signer); err != nil {
		return nil, err
	}
	s.msk = msk
	s.epoch = st.Epoch
	return s, nil
}

// save writes the state atomically with mode 0600. Callers hold mu (or own
// s exclusively).
func (s *Service) save() error {
	pk, err := s.auth.PublicKey().MarshalBinary()
	if err != nil {
		return err
	}
	msk, err := s.msk.MarshalBinary()
	if err != nil {
		return err
	}
	tk := s.auth.TagKey()
	raw, err := json.Marshal(state{Epoch: s.epoch, PublicKey: pk, MasterKey: msk, TagKey: tk[:]})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("aa: %w", err)
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return fmt.Errorf("aa: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("aa: %w", err)
	}
	return nil
}

// Epoch returns the current epoch.
func (s *Service) Epoch() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.epoch
}

// Params returns the public parameters.
func (s *Service) Params() (*api.AuthorityParams, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	pk, err := s.auth.PublicKey().MarshalBinary()
	if err != nil {
		return nil, err
	}
	vk, err := x509.MarshalPKIXPublicKey(s.auth.VerifyKey())
	if err != nil {
		return nil, err
	}
	p := &api.AuthorityParams{Scheme: s.auth.Scheme().Name(), PublicKey: pk, VerifyKey: vk, Epoch: s.epoch}
	for _, n := range s.auth.Schema().Names() {
		sp, _ := s.auth.Schema().Spec(n)
		p.Schema = append(p.Schema, api.AttributeSpec{Name: sp.Name, Ordered: sp.Ordered, Max: sp.Max, Values: sp.Values})
	}
	return p, nil
}

// TagKey returns the tag key and the current epoch.
func (s *Service) TagKey() (tag.Key, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.auth.TagKey(), s.epoch
}

// Issue issues, for the current epoch, an ABE key and a tag credential for
// attrs to the holder of subject (PKIX DER of its signing key), and the
// enrolment binding that key to the user id of its enrolled identity
// (enrolledID, the identity's unique name): P-TL names users by that id,
// so every key of one person answers for the same person.
func (s *Service) Issue(rnd io.Reader, enrolledID string, subject []byte, attrs []tag.Attribute, now time.Time) (*api.Enrolment, error) {
	if len(attrs) == 0 {
		return nil, ErrNoAttributes
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	req := authority.Request{Subject: subject, Attributes: attrs, Epoch: s.epoch, NotBefore: now.Add(-time.Minute), NotAfter: now.Add(s.validity)}
	canon, err := s.auth.Attributes(req)
	if err != nil {
		return nil, err
	}
	g, err := s.auth.Issue(rnd, req)
	if err != nil {
		return nil, err
	}
	key, err := g.Key.MarshalBinary()
	if err != nil {
		return nil, err
	}
	w, err := g.Wallet.MarshalBinary()
	if err != nil {
		return nil, err
	}
	aaKey, err := txbuild.KeyOf(s.signer)
	if err != nil {
		return nil, err
	}
	en, err := txbuild.Enrol(aaKey, txbuild.UserID(enrolledID), subject)
	if err != nil {
		return nil, err
	}
	return &api.Enrolment{Epoch: g.Epoch, Key: key, Wallet: w, Attributes: canon, NotBefore: req.NotBefore, NotAfter: req.NotAfter,
		User: en.User, Enrolment: en.Signature}, nil
}

// Rotate moves to the next epoch and saves the state. Users must enrol
// again; records encrypted from now on need keys of the new epoch.
func (s *Service) Rotate() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
	if err := s.save(); err != nil {
		s.epoch--
		return 0, err
	}
	return s.epoch, nil
}
