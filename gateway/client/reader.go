package client

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/medshare/medshare/abe"
	"github.com/medshare/medshare/abe/credential"
	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/envelope"
)

// Errors of an access on the user's side.
var (
	// ErrTampered: an object fetched from IPFS does not match the
	// checkCode its Tx_sto records; nothing of the record is decrypted.
	ErrTampered = errors.New("client: a stored object does not match its checkCode")
	// ErrBadGrant: the owner's gateway answered keys that do not match
	// P-TL's decision (H(m)) or belong to another record, version or level.
	ErrBadGrant = errors.New("client: the grant's keys do not match P-TL's decision")
)

// Level outcomes of an access.
const (
	// Opened: P-TL granted the level and it was decrypted.
	Opened = "opened"
	// Refused: P-TL refused the level (Reason says why).
	Refused = "refused"
	// NotSatisfiable: the user's certified tags cannot satisfy the level's
	// policy, so no proof was sent (OpenOptions.Probe sends one anyway).
	NotSatisfiable = "not-satisfiable"
)

// LevelResult is the outcome of one level.
type LevelResult struct {
	Level       string
	Status      string
	Reason      string
	Detail      string
	ViolationID string
	Grant       *api.Grant
}

// Result is an opened record: the plaintext of each opened level, the
// outcome of each level the record holds, and the permitted part of the
// document (Assemble's output) when something was opened.
type Result struct {
	Record   *api.Record
	Levels   []LevelResult
	Opened   [policy.NumLevels][]byte
	Document []byte
}

// Reader opens records for a data user: User is its signing key (BPK_DU)
// with its credential wallet, Key its ABE key. Home is the user's own
// organisation's gateway (search, levels, objects, and where the owner's
// gateway is: Client.Organisation, pinned to the owner's CA and the gateway
// role); Gateway, when set, replaces that resolution (by MSP id and the URL
// the record's metadata names). Assemble rebuilds a document from the
// opened levels (grade.Assemble for FHIR).
type Reader struct {
	Home     *Client
	Gateway  func(msp, url string) (*Client, error)
	User     *txbuild.User
	Key      *abe.UserKey
	Assemble func(opened [policy.NumLevels][]byte) ([]byte, error)
	// Now is the clock proofs are made with (time.Now when nil).
	Now func() time.Time
}

// OpenOptions choose what to request.
type OpenOptions struct {
	// Levels to request (default: every level the record holds).
	Levels []policy.Level
	// Probe sends a proof even for a level whose policy the user's tags
	// cannot satisfy, disclosing the tags it holds that the policy names,
	// so that P-TL states (and records) its refusal.
	Probe bool
}

func (r *Reader) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// owner returns the client of the record's owning gateway: resolved
// through the user's own gateway (the registry on main) and pinned to the
// owning organisation's CA and the gateway role, so that a server of
// another organisation, or any certificate but a gateway's of the owner,
// never receives the user's proofs.
func (r *Reader) owner(ctx context.Context, rec *api.Record) (*Client, error) {
	if r.Gateway != nil {
		return r.Gateway(rec.Owner, rec.OwnerGateway)
	}
	return r.Home.Organisation(ctx, rec.Owner)
}

// proof builds the user's proof for a level: the tags the policy needs, or
// with probe the tags it holds that the policy names.
func (r *Reader) proof(lv *api.Level, probe bool) (*ptl.Proof, bool, error) {
	pol := &ptl.Policy{RecordID: lv.RecordID, Version: lv.PolicyVersion}
	pol.HiddenPolicy = lv.HiddenPolicy
	p, err := r.User.ProofFor(rand.Reader, lv.Channel, pol, lv.Address, r.now())
	if err == nil {
		return p, true, nil
	}
	if !errors.Is(err, txbuild.ErrNotSatisfiable) || !probe {
		return nil, false, err
	}
	tree, err := policy.Unmarshal(lv.HiddenPolicy)
	if err != nil {
		return nil, false, err
	}
	leaves := tree.Leaves()
	var named []tag.Tag
	for _, t := range r.User.Wallet.Tags() {
		if slices.Contains(leaves, t.String()) {
			named = append(named, t)
		}
	}
	if len(named) == 0 {
		return nil, false, txbuild.ErrNotSatisfiable
	}
	p, err = r.User.Proof(rand.Reader, txbuild.ProofInput{Channel: lv.Channel, RecordID: lv.RecordID, PolicyVersion: lv.PolicyVersion,
		Address: lv.Address, Time: r.now(), Disclose: named})
	return p, false, err
}

// Open requests the record's levels from its owner's gateway, fetches each
// granted level's object through the user's own gateway, checks it against
// checkCode (ErrTampered: nothing is decrypted), and decrypts every granted
// level the ABE key opens.
func (r *Reader) Open(ctx context.Context, id string, o OpenOptions) (*Result, error) {
	rec, err := r.Home.Record(ctx, id)
	if err != nil {
		return nil, err
	}
	res := &Result{Record: rec}
	owner, err := r.owner(ctx, rec)
	if err != nil {
		return nil, err
	}
	want := o.Levels
	if len(want) == 0 {
		want = []policy.Level{policy.High, policy.Medium, policy.Low}
	}
	type granted struct {
		l   policy.Level
		g   *api.Grant
		obj []byte
	}
	var grants []granted
	for _, ref := range rec.Levels {
		l, err := policy.ParseLevel(ref.Level)
		if err != nil || !slices.Contains(want, l) {
			continue
		}
		lv, err := r.Home.Level(ctx, id, l.String())
		if err != nil {
			return nil, err
		}
		p, _, err := r.proof(lv, o.Probe)
		if errors.Is(err, txbuild.ErrNotSatisfiable) {
			res.Levels = append(res.Levels, LevelResult{Level: l.String(), Status: NotSatisfiable})
			continue
		}
		if err != nil {
			return nil, err
		}
		g, err := owner.Access(ctx, id, &api.AccessRequest{Level: l.String(), Proof: p})
		var pe *ProblemError
		if errors.As(err, &pe) && pe.Reason != "" {
			res.Levels = append(res.Levels, LevelResult{Level: l.String(), Status: Refused, Reason: pe.Reason, Detail: pe.Detail, ViolationID: pe.ViolationID})
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := checkGrant(id, l, lv, p, g); err != nil {
			return nil, err
		}
		res.Levels = append(res.Levels, LevelResult{Level: l.String(), Status: Opened, Grant: g})
		grants = append(grants, granted{l: l, g: g})
	}
	if len(grants) == 0 {
		return res, nil
	}
	// Fetch every granted object and check it before decrypting anything.
	var wg sync.WaitGroup
	errs := make([]error, len(grants))
	for i := range grants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			obj, err := r.Home.Object(ctx, grants[i].g.Address)
			if err != nil {
				errs[i] = err
				return
			}
			sum := sha256.Sum256(obj)
			if hex.EncodeToString(sum[:]) != grants[i].g.CheckCode {
				errs[i] = fmt.Errorf("%w: %s level of %s at %s", ErrTampered, grants[i].l, id, grants[i].g.Address)
				return
			}
			grants[i].obj = obj
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var sealed abe.Levels
	var header []byte
	var version uint64
	for _, gr := range grants {
		k, err := checkKeys(id, gr.l, gr.g)
		if err != nil {
			return nil, err
		}
		if header != nil && (string(header) != string(k.Header) || version != k.Version) {
			return nil, fmt.Errorf("%w: the levels' keys belong to different versions", ErrBadGrant)
		}
		header, version = k.Header, k.Version
		if sealed[gr.l], err = envelope.Open(k, gr.obj); err != nil {
			return nil, fmt.Errorf("%s level: %w", gr.l, err)
		}
	}
	ct, err := abe.JoinCiphertext(header, sealed)
	if err != nil {
		return nil, err
	}
	sch, err := abe.New(ct.Scheme())
	if err != nil {
		return nil, err
	}
	for _, gr := range grants {
		pt, err := sch.DecryptLevel(r.Key, ct, envelope.Binding(id, version), gr.l)
		if err != nil {
			return nil, fmt.Errorf("client: %s level of %s: %w", gr.l, id, err)
		}
		res.Opened[gr.l] = pt
	}
	if r.Assemble != nil {
		if res.Document, err = r.Assemble(res.Opened); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// checkGrant checks a grant against what the user's own organisation read
// from the ledger (lv) and the proof it answers: the owner's gateway must
// answer for this record, level and side chain the level's current
// address, checkCode and H(m), and the access id of this very proof — not
// another object, other keys, or a grant of an earlier proof replayed
// without P-TL deciding this one.
func checkGrant(id string, l policy.Level, lv *api.Level, p *ptl.Proof, g *api.Grant) error {
	if g.RecordID != id || g.Level != l.String() || g.Channel != lv.Channel {
		return fmt.Errorf("%w: the grant is for %s level %s on %s, not %s level %s on %s", ErrBadGrant, g.RecordID, g.Level, g.Channel, id, l, lv.Channel)
	}
	if g.Address != lv.Address || g.CheckCode != lv.CheckCode || g.KeysHash != lv.KeysHash || g.ChainVersion != lv.ChainVersion {
		return fmt.Errorf("%w: the grant names another object or other keys than the level's Tx_sto", ErrBadGrant)
	}
	d, err := p.Digest(lv.Channel)
	if err != nil {
		return err
	}
	if g.AccessID != ptl.AccessID(d) {
		return fmt.Errorf("%w: the grant answers access %s, not this proof's %s", ErrBadGrant, g.AccessID, ptl.AccessID(d))
	}
	return nil
}

// checkKeys checks a grant's m against P-TL's H(m) and the record, level.
func checkKeys(id string, l policy.Level, g *api.Grant) (*envelope.Keys, error) {
	sum := sha256.Sum256(g.Keys)
	if hex.EncodeToString(sum[:]) != g.KeysHash {
		return nil, fmt.Errorf("%w: H(m) differs", ErrBadGrant)
	}
	k, err := envelope.ParseKeys(g.Keys)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadGrant, err)
	}
	if k.RecordID != id || k.Level != l {
		return nil, fmt.Errorf("%w: keys of %s level %s, not %s level %s", ErrBadGrant, k.RecordID, k.Level, id, l)
	}
	return k, nil
}

// UserOf turns an enrolment (the attribute authority's answer to
// Client.Enrol) into what a Reader needs: the user's proof signer — the
// identity's own signing key, the credential's subject — and its ABE key.
func UserOf(id *Identity, e *api.Enrolment) (*txbuild.User, *abe.UserKey, error) {
	uk, err := abe.ParseUserKey(e.Key)
	if err != nil {
		return nil, nil, err
	}
	w, err := credential.UnmarshalWallet(e.Wallet)
	if err != nil {
		return nil, nil, err
	}
	k, err := txbuild.KeyOf(id.Signer.PrivateKey())
	if err != nil {
		return nil, nil, err
	}
	u, err := txbuild.NewUser(k, ptl.Enrolment{User: e.User, Signature: e.Enrolment}, w)
	if err != nil {
		return nil, nil, fmt.Errorf("client: the credential is not for this identity: %w", err)
	}
	return u, uk, nil
}
