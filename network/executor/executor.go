// Package executor validates and executes transactions: the deterministic
// core that every node runs on every block (order-execute).
//
// For a block it checks each transaction — structure and size, channel,
// creator membership, signature, duplicate ID, clock skew against the block's
// timestamp, ACL, chaincode definition — runs the chaincode of the valid ones
// in order over an overlay of the block's earlier writes, and returns the
// per-transaction results, the block's net writes, the world-state LtHash
// after them, and the Merkle root over transactions and results. Given the
// same committed state and block, every correct node computes the same
// outcome; the header's tx root and state hash let nodes check that.
//
// The same checks serve submission (Endorse: simulate against committed
// state and the node's clock) and queries (Evaluate: read-only).
package executor

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/medshare/medshare/network/block"
	"github.com/medshare/medshare/network/chaincode"
	"github.com/medshare/medshare/network/channel"
	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/lifecycle"
	"github.com/medshare/medshare/network/lthash"
	"github.com/medshare/medshare/network/pb"
	"github.com/medshare/medshare/network/state"
)

// Registry is the chaincode compiled into the node binary, by name. Each
// channel gets its own instances, so chaincode may keep per-channel caches.
type Registry map[string]Factory

// Factory builds one instance of a chaincode.
type Factory func() (chaincode.Invoker, error)

// Instance returns a Factory that always returns inv (for chaincode without
// per-instance state, and for tests).
func Instance(inv chaincode.Invoker) Factory {
	return func() (chaincode.Invoker, error) { return inv, nil }
}

// Committed is the committed ledger a block executes against.
type Committed interface {
	state.Reader
	state.HistoryReader
	HasTx(txID string) (bool, error)
}

// maxMessageLen bounds the error message kept in a transaction's result.
const maxMessageLen = 1024

// sigCacheSize bounds the cache of verified signatures.
const sigCacheSize = 1 << 16

// Executor executes the transactions of one channel. It is safe for
// concurrent use.
type Executor struct {
	cfg       *channel.Config
	registry  map[string]chaincode.Invoker
	lifecycle *lifecycle.Lifecycle
	// verified remembers signatures that verified, keyed by SHA-256 of
	// the signed bytes and the signature, so a transaction checked when it
	// was submitted is not verified again when its block commits.
	verified *lru.Cache[[32]byte, struct{}]
}

// New returns the executor of the channel configured by cfg.
func New(cfg *channel.Config, registry Registry) (*Executor, error) {
	cache, err := lru.New[[32]byte, struct{}](sigCacheSize)
	if err != nil {
		return nil, err
	}
	instances := make(map[string]chaincode.Invoker, len(registry))
	for name, build := range registry {
		inv, err := build()
		if err != nil {
			return nil, fmt.Errorf("executor: chaincode %s: %w", name, err)
		}
		instances[name] = inv
	}
	e := &Executor{cfg: cfg, registry: instances, verified: cache}
	e.lifecycle = lifecycle.New(cfg.Membership().IDs, func(name string) bool {
		_, ok := instances[name]
		return ok
	})
	return e, nil
}

// Config is the channel's configuration.
func (e *Executor) Config() *channel.Config { return e.cfg }

// Authentic is a transaction whose structure, channel, creator and signature
// were checked.
type Authentic struct {
	Tx      *block.Tx
	Creator *identity.Identity
}

// Authenticate parses a stored transaction and checks everything that does
// not depend on state: size, structure, channel, the creator's membership at
// time at, and the signature.
func (e *Executor) Authenticate(raw []byte, at time.Time) (*Authentic, error) {
	tx, err := block.ParseTx(raw, e.cfg.MaxTxBytes())
	if err != nil {
		return nil, err
	}
	return e.authenticate(tx, at)
}

// AuthenticateEnvelope is Authenticate for an envelope received in a
// request.
func (e *Executor) AuthenticateEnvelope(env *pb.Envelope, at time.Time) (*Authentic, error) {
	tx, err := block.TxFromEnvelope(env, e.cfg.MaxTxBytes())
	if err != nil {
		return nil, err
	}
	return e.authenticate(tx, at)
}

func (e *Executor) authenticate(tx *block.Tx, at time.Time) (*Authentic, error) {
	p := tx.Proposal
	if p.GetChannel() != e.cfg.Name() {
		return nil, block.Invalid(pb.ValidationCode_WRONG_CHANNEL, "transaction for channel %q sent to %q", p.GetChannel(), e.cfg.Name())
	}
	creator, err := e.cfg.Membership().Validate(p.GetMspId(), p.GetCreator(), at)
	if err != nil {
		return nil, block.Invalid(pb.ValidationCode_UNKNOWN_CREATOR, "%v", err)
	}
	sig := tx.Envelope.GetSignature()
	h := sha256.New()
	h.Write(tx.Envelope.GetProposal())
	h.Write(sig)
	var key [32]byte
	h.Sum(key[:0])
	if _, ok := e.verified.Get(key); !ok {
		if err := creator.Verify(tx.Envelope.GetProposal(), sig); err != nil {
			return nil, block.Invalid(pb.ValidationCode_BAD_SIGNATURE, "creator %s: %v", creator, err)
		}
		e.verified.Add(key, struct{}{})
	}
	return &Authentic{Tx: tx, Creator: creator}, nil
}

// checkSkew checks a transaction's timestamp against a reference time.
func (e *Executor) checkSkew(a *Authentic, ref time.Time) error {
	d := a.Tx.Timestamp().Sub(ref)
	if d < 0 {
		d = -d
	}
	if d > e.cfg.MaxClockSkew() {
		return block.Invalid(pb.ValidationCode_BAD_TIMESTAMP, "transaction time %s is %s away from %s (limit %s)",
			a.Tx.Timestamp().Format(time.RFC3339Nano), d.Round(time.Millisecond), ref.UTC().Format(time.RFC3339Nano), e.cfg.MaxClockSkew())
	}
	return nil
}

// resolve finds a callable chaincode in the view of a transaction: the
// lifecycle, or a committed definition whose code this node has.
func (e *Executor) resolve(view state.Reader, name string) (chaincode.Invoker, bool) {
	if name == lifecycle.Name {
		return e.lifecycle, true
	}
	if strings.HasPrefix(name, "_") {
		return nil, false
	}
	def, err := lifecycle.Definition(view, name)
	if err != nil || def == nil {
		return nil, false
	}
	cc, ok := e.registry[name]
	return cc, ok
}

// run checks ACL and definition and runs the chaincode of an authentic
// transaction over view.
func (e *Executor) run(a *Authentic, view state.Reader, hist state.HistoryReader, readOnly bool) chaincode.Result {
	p := a.Tx.Proposal
	if !e.cfg.Allowed(a.Creator, p.GetChaincode(), a.Tx.Function()) {
		return chaincode.Result{Err: block.Invalid(pb.ValidationCode_ACCESS_DENIED, "%s (%s) may not call %s/%s on %s",
			a.Creator, a.Creator.Role(), p.GetChaincode(), a.Tx.Function(), e.cfg.Name())}
	}
	cc, ok := e.resolve(view, p.GetChaincode())
	if !ok {
		return chaincode.Result{Err: block.Invalid(pb.ValidationCode_UNKNOWN_CHAINCODE, "chaincode %q is not defined on %s", p.GetChaincode(), e.cfg.Name())}
	}
	inv := chaincode.Invocation{
		ChannelID: e.cfg.Name(),
		Chaincode: p.GetChaincode(),
		TxID:      a.Tx.TxID,
		Timestamp: a.Tx.Timestamp(),
		Args:      p.GetArgs(),
		Creator:   a.Creator,
		ReadOnly:  readOnly,
		Resolve:   e.resolve,
		Members:   e.cfg.Membership(),
	}
	res := chaincode.Execute(cc, inv, view, hist)
	if res.Err != nil {
		res.Err = block.Invalid(pb.ValidationCode_CHAINCODE_ERROR, "%s", truncate(res.Err.Error()))
	}
	return res
}

// Endorse simulates a submitted transaction against the committed state, as
// the first stage of submission: it returns the chaincode's payload, or a
// *block.ValidationError saying why the transaction would be invalid.
func (e *Executor) Endorse(c Committed, env *pb.Envelope, now time.Time) (*Authentic, []byte, error) {
	a, err := e.AuthenticateEnvelope(env, now)
	if err != nil {
		return nil, nil, err
	}
	if dup, err := c.HasTx(a.Tx.TxID); err != nil {
		return a, nil, err
	} else if dup {
		return a, nil, block.Invalid(pb.ValidationCode_DUPLICATE_TXID, "transaction %s is already committed", a.Tx.TxID)
	}
	if err := e.checkSkew(a, now); err != nil {
		return a, nil, err
	}
	res := e.run(a, state.NewOverlay(c), c, false)
	return a, res.Payload, res.Err
}

// Evaluate runs a signed query read-only against the committed state.
func (e *Executor) Evaluate(c Committed, env *pb.Envelope, now time.Time) ([]byte, error) {
	a, err := e.AuthenticateEnvelope(env, now)
	if err != nil {
		return nil, err
	}
	if err := e.checkSkew(a, now); err != nil {
		return nil, err
	}
	res := e.run(a, c, c, true)
	return res.Payload, res.Err
}

// Outcome is the result of executing a block.
type Outcome struct {
	Results []*pb.TxResult
	// Writes are the block's net writes, sorted by namespace and key.
	Writes []state.Write
	// StateHash is the world-state LtHash after the block.
	StateHash lthash.Hash
	// TxRoot is the Merkle root over transactions and results.
	TxRoot block.Hash
}

// Execute validates and executes a block's transactions against the
// committed state c, whose LtHash is before. The returned error is a storage
// failure (the node cannot continue), never a transaction's invalidity.
func (e *Executor) Execute(c Committed, before lthash.Hash, blockTime time.Time, txs [][]byte) (*Outcome, error) {
	auth := e.authenticateAll(txs, blockTime)
	overlay := state.NewOverlay(c)
	results := make([]*pb.TxResult, len(txs))
	seen := make(map[string]bool, len(txs))
	for i, a := range auth {
		r := &pb.TxResult{}
		results[i] = r
		if a.err != nil {
			setInvalid(r, a.err)
			if a.txID != "" {
				r.TxId = a.txID
			}
			continue
		}
		r.TxId = a.Tx.TxID
		dup, err := c.HasTx(a.Tx.TxID)
		if err != nil {
			return nil, err
		}
		if dup || seen[a.Tx.TxID] {
			setInvalid(r, block.Invalid(pb.ValidationCode_DUPLICATE_TXID, "transaction %s is already committed", a.Tx.TxID))
			continue
		}
		seen[a.Tx.TxID] = true
		if err := e.checkSkew(a.Authentic, blockTime); err != nil {
			setInvalid(r, err)
			continue
		}
		res := e.run(a.Authentic, overlay, c, false)
		if res.Err != nil {
			setInvalid(r, res.Err)
			continue
		}
		overlay.Apply(res.Writes)
		r.Payload = res.Payload
		r.Writes = toPBWrites(res.Writes)
		r.Events = toPBEvents(res.Events)
	}
	writes := overlay.Writes()
	after := before
	for _, w := range writes {
		old, err := c.Get(w.Namespace, w.Key)
		if err != nil {
			return nil, err
		}
		if old != nil {
			after.Remove(lthash.Element(w.Namespace, w.Key, old))
		}
		if !w.Delete {
			after.Add(lthash.Element(w.Namespace, w.Key, w.Value))
		}
	}
	return &Outcome{Results: results, Writes: writes, StateHash: after, TxRoot: block.TxRoot(txs, results)}, nil
}

type authResult struct {
	*Authentic
	txID string
	err  error
}

// authenticateAll runs the stateless checks of a block's transactions on all
// cores.
func (e *Executor) authenticateAll(txs [][]byte, at time.Time) []authResult {
	out := make([]authResult, len(txs))
	workers := min(runtime.GOMAXPROCS(0), len(txs))
	var wg sync.WaitGroup
	next := make(chan int, len(txs))
	for i := range txs {
		next <- i
	}
	close(next)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				a, err := e.Authenticate(txs[i], at)
				out[i] = authResult{Authentic: a, err: err}
				if err != nil {
					// Keep the ID of a decodable transaction in its result.
					if tx, perr := block.ParseTx(txs[i], 0); perr == nil {
						out[i].txID = tx.TxID
					}
				}
			}
		}()
	}
	wg.Wait()
	return out
}

func setInvalid(r *pb.TxResult, err error) {
	var ve *block.ValidationError
	if errors.As(err, &ve) {
		r.Code = ve.Code
		r.Message = truncate(ve.Msg)
		return
	}
	r.Code = pb.ValidationCode_BAD_PAYLOAD
	r.Message = truncate(err.Error())
}

// truncate makes a message valid UTF-8 (protobuf strings must be) and cuts
// it to maxMessageLen bytes on a rune boundary.
func truncate(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxMessageLen {
		return s
	}
	cut := maxMessageLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

func toPBWrites(ws []state.Write) []*pb.KVWrite {
	out := make([]*pb.KVWrite, len(ws))
	for i, w := range ws {
		out[i] = &pb.KVWrite{Namespace: w.Namespace, Key: w.Key, Value: w.Value, Delete: w.Delete}
	}
	return out
}

func toPBEvents(evs []chaincode.Event) []*pb.ChaincodeEvent {
	if len(evs) == 0 {
		return nil
	}
	out := make([]*pb.ChaincodeEvent, len(evs))
	for i, ev := range evs {
		out[i] = &pb.ChaincodeEvent{Chaincode: ev.Chaincode, Name: ev.Name, Payload: ev.Payload}
	}
	return out
}

// ErrorCode returns the validation code carried by err, or BAD_PAYLOAD.
func ErrorCode(err error) pb.ValidationCode {
	var ve *block.ValidationError
	if errors.As(err, &ve) {
		return ve.Code
	}
	return pb.ValidationCode_BAD_PAYLOAD
}

// String describes the executor, for logs.
func (e *Executor) String() string { return fmt.Sprintf("executor(%s)", e.cfg.Name()) }
