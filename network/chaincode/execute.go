package chaincode

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/state"
)

// Invoker is a chaincode as the ledger sees it: one call per transaction.
// Chaincode built with New implements it; system chaincode may implement it
// directly.
type Invoker interface {
	Invoke(ctx TransactionContext) ([]byte, error)
}

// InvokerFunc adapts a function to Invoker.
type InvokerFunc func(ctx TransactionContext) ([]byte, error)

// Invoke calls f.
func (f InvokerFunc) Invoke(ctx TransactionContext) ([]byte, error) { return f(ctx) }

// Invocation is everything a chaincode call depends on besides state.
type Invocation struct {
	// ChannelID is the channel the transaction belongs to.
	ChannelID string
	// Chaincode is the name of the chaincode called, which is also the
	// namespace of its state.
	Chaincode string
	// TxID is the transaction ID.
	TxID string
	// Timestamp is the client-signed transaction time.
	Timestamp time.Time
	// Args are the call's arguments, the function name first.
	Args [][]byte
	// Creator is the validated identity that signed the transaction.
	Creator *identity.Identity
	// ReadOnly makes writes and events fail (evaluation, i.e. queries).
	ReadOnly bool
	// Resolve finds the other chaincodes of the channel, for InvokeChaincode.
	// It sees the calling transaction's state, including its own writes (a
	// chaincode defined earlier in the same transaction is callable). Nil
	// disables InvokeChaincode.
	Resolve func(view state.Reader, name string) (Invoker, bool)
	// Members is the channel's membership, which chaincode reads with
	// ChannelMembers; nil when the ledger does not provide it.
	Members Members
}

// Result is the outcome of a chaincode call.
type Result struct {
	// Payload is the chaincode's response.
	Payload []byte
	// Writes are the call's writes, sorted by namespace and key. Empty when Err is set.
	Writes []state.Write
	// Events are the events the call set. Empty when Err is set.
	Events []Event
	// Err is the chaincode's error; the transaction is invalid.
	Err error
}

// Execute runs one chaincode call against base state. A panic in the
// chaincode is turned into an error. On error, the result carries no writes
// or events.
func Execute(cc Invoker, inv Invocation, base state.Reader, hist state.HistoryReader) Result {
	overlay := state.NewOverlay(base)
	s := &txStub{inv: inv, overlay: overlay, hist: hist}
	payload, err := invokeSafely(cc, s)
	if err != nil {
		return Result{Err: err}
	}
	return Result{Payload: payload, Writes: overlay.Writes(), Events: s.events}
}

func invokeSafely(cc Invoker, s *txStub) (payload []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			payload, err = nil, fmt.Errorf("chaincode %s panicked: %v", s.inv.Chaincode, r)
		}
	}()
	return cc.Invoke(&txContext{stub: s, cid: clientIdentity{s.inv.Creator}})
}

// txStub implements Stub over an overlay of the transaction's writes.
type txStub struct {
	inv     Invocation
	overlay *state.Overlay
	hist    state.HistoryReader
	events  []Event
	depth   int
}

func (s *txStub) ns() string { return s.inv.Chaincode }

func (s *txStub) GetArgs() [][]byte { return s.inv.Args }

func (s *txStub) GetStringArgs() []string {
	out := make([]string, len(s.inv.Args))
	for i, a := range s.inv.Args {
		out[i] = string(a)
	}
	return out
}

func (s *txStub) GetFunctionAndParameters() (string, []string) {
	args := s.GetStringArgs()
	if len(args) == 0 {
		return "", nil
	}
	return args[0], args[1:]
}

func (s *txStub) GetTxID() string                    { return s.inv.TxID }
func (s *txStub) GetChannelID() string               { return s.inv.ChannelID }
func (s *txStub) GetTxTimestamp() (time.Time, error) { return s.inv.Timestamp, nil }

func (s *txStub) GetCreator() ([]byte, error) {
	if s.inv.Creator == nil {
		return nil, fmt.Errorf("chaincode: transaction has no creator")
	}
	return s.inv.Creator.Bytes(), nil
}

func (s *txStub) GetState(key string) ([]byte, error) {
	if err := validateKey(key); err != nil {
		return nil, err
	}
	v, err := s.overlay.Get(s.ns(), key)
	if err != nil {
		return nil, fmt.Errorf("chaincode: get %q: %w", key, err)
	}
	return bytes.Clone(v), nil
}

func (s *txStub) PutState(key string, value []byte) error {
	if s.inv.ReadOnly {
		return ErrReadOnly
	}
	if err := validateKey(key); err != nil {
		return err
	}
	if len(value) > MaxValueLen {
		return fmt.Errorf("%w: value of %d bytes for %q exceeds %d", ErrInvalidArgument, len(value), key, MaxValueLen)
	}
	s.overlay.Put(s.ns(), key, value)
	return nil
}

func (s *txStub) DelState(key string) error {
	if s.inv.ReadOnly {
		return ErrReadOnly
	}
	if err := validateKey(key); err != nil {
		return err
	}
	s.overlay.Delete(s.ns(), key)
	return nil
}

func (s *txStub) GetStateByRange(startKey, endKey string) (StateQueryIterator, error) {
	if err := validateRangeKey(startKey); err != nil {
		return nil, err
	}
	if err := validateRangeKey(endKey); err != nil {
		return nil, err
	}
	if startKey == "" {
		startKey = emptyKeySubstitute
	}
	return s.rangeIter(startKey, endKey)
}

func (s *txStub) rangeIter(start, end string) (StateQueryIterator, error) {
	it, err := s.overlay.Range(s.ns(), start, end)
	if err != nil {
		return nil, fmt.Errorf("chaincode: range: %w", err)
	}
	return &stateIter{ns: s.ns(), it: it}, nil
}

func (s *txStub) GetStateByRangeWithPagination(startKey, endKey string, pageSize int32, bookmark string) (StateQueryIterator, *QueryResponseMetadata, error) {
	if err := validateRangeKey(startKey); err != nil {
		return nil, nil, err
	}
	if err := validateRangeKey(endKey); err != nil {
		return nil, nil, err
	}
	if startKey == "" {
		startKey = emptyKeySubstitute
	}
	return s.page(startKey, endKey, pageSize, bookmark)
}

// page reads one page of [start, end) from bookmark. The bookmark must lie in
// the range; the returned bookmark is the first key of the next page.
func (s *txStub) page(start, end string, pageSize int32, bookmark string) (StateQueryIterator, *QueryResponseMetadata, error) {
	if pageSize <= 0 {
		return nil, nil, fmt.Errorf("%w: page size %d must be positive", ErrInvalidArgument, pageSize)
	}
	if bookmark != "" {
		if bookmark < start || (end != "" && bookmark >= end) {
			return nil, nil, fmt.Errorf("%w: bookmark is outside the queried range", ErrInvalidArgument)
		}
		start = bookmark
	}
	it, err := s.overlay.Range(s.ns(), start, end)
	if err != nil {
		return nil, nil, fmt.Errorf("chaincode: range: %w", err)
	}
	defer it.Close()
	var kvs []state.KV
	next := ""
	for it.Next() {
		if int32(len(kvs)) == pageSize {
			next = it.KV().Key
			break
		}
		kv := it.KV()
		kvs = append(kvs, state.KV{Key: kv.Key, Value: bytes.Clone(kv.Value)})
	}
	if err := it.Err(); err != nil {
		return nil, nil, fmt.Errorf("chaincode: range: %w", err)
	}
	meta := &QueryResponseMetadata{FetchedRecordsCount: int32(len(kvs)), Bookmark: next}
	return &stateIter{ns: s.ns(), it: state.NewSliceIterator(kvs)}, meta, nil
}

func (s *txStub) CreateCompositeKey(objectType string, attributes []string) (string, error) {
	return CreateCompositeKey(objectType, attributes)
}

func (s *txStub) SplitCompositeKey(key string) (string, []string, error) {
	return SplitCompositeKey(key)
}

func (s *txStub) partialRange(objectType string, keys []string) (string, string, error) {
	prefix, err := CreateCompositeKey(objectType, keys)
	if err != nil {
		return "", "", err
	}
	return prefix, prefix + maxRuneString, nil
}

func (s *txStub) GetStateByPartialCompositeKey(objectType string, keys []string) (StateQueryIterator, error) {
	start, end, err := s.partialRange(objectType, keys)
	if err != nil {
		return nil, err
	}
	return s.rangeIter(start, end)
}

func (s *txStub) GetStateByPartialCompositeKeyWithPagination(objectType string, keys []string, pageSize int32, bookmark string) (StateQueryIterator, *QueryResponseMetadata, error) {
	start, end, err := s.partialRange(objectType, keys)
	if err != nil {
		return nil, nil, err
	}
	return s.page(start, end, pageSize, bookmark)
}

func (s *txStub) GetHistoryForKey(key string) (HistoryQueryIterator, error) {
	if err := validateKey(key); err != nil {
		return nil, err
	}
	if s.hist == nil {
		return &historyIter{}, nil
	}
	h, err := s.hist.History(s.ns(), key)
	if err != nil {
		return nil, fmt.Errorf("chaincode: history of %q: %w", key, err)
	}
	return &historyIter{mods: h}, nil
}

func (s *txStub) SetEvent(name string, payload []byte) error {
	if s.inv.ReadOnly {
		return ErrReadOnly
	}
	if name == "" || len(name) > 256 || !utf8.ValidString(name) {
		return fmt.Errorf("%w: event name must be 1..256 bytes of UTF-8", ErrInvalidArgument)
	}
	if len(payload) > MaxEventPayload {
		return fmt.Errorf("%w: event payload of %d bytes exceeds %d", ErrInvalidArgument, len(payload), MaxEventPayload)
	}
	s.events = append(s.events, Event{Chaincode: s.ns(), Name: name, Payload: bytes.Clone(payload)})
	return nil
}

func (s *txStub) InvokeChaincode(name string, args [][]byte, channel string) ([]byte, error) {
	if channel != "" && channel != s.inv.ChannelID {
		return nil, fmt.Errorf("%w: cannot invoke chaincode on channel %q from %q", ErrInvalidArgument, channel, s.inv.ChannelID)
	}
	if s.inv.Resolve == nil {
		return nil, fmt.Errorf("%w: chaincode-to-chaincode calls are not available here", ErrInvalidArgument)
	}
	if s.depth+1 > MaxCallDepth {
		return nil, fmt.Errorf("%w: calls nested deeper than %d", ErrInvalidArgument, MaxCallDepth)
	}
	cc, ok := s.inv.Resolve(s.overlay, name)
	if !ok {
		return nil, fmt.Errorf("%w: chaincode %q is not defined on channel %s", ErrInvalidArgument, name, s.inv.ChannelID)
	}
	inv := s.inv
	inv.Chaincode = name
	inv.Args = args
	child := &txStub{inv: inv, overlay: state.NewOverlay(s.overlay), hist: s.hist, depth: s.depth + 1}
	payload, err := invokeSafely(cc, child)
	if err != nil {
		return nil, fmt.Errorf("chaincode %s: %w", name, err)
	}
	s.overlay.Apply(child.overlay.Writes())
	s.events = append(s.events, child.events...)
	return payload, nil
}

// stateIter adapts a state.Iterator to StateQueryIterator.
type stateIter struct {
	ns      string
	it      state.Iterator
	peeked  bool
	hasNext bool
}

func (i *stateIter) HasNext() bool {
	if !i.peeked {
		i.hasNext = i.it.Next()
		i.peeked = true
	}
	return i.hasNext
}

func (i *stateIter) Next() (*KV, error) {
	if !i.HasNext() {
		if err := i.it.Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: iterator exhausted", ErrInvalidArgument)
	}
	i.peeked = false
	kv := i.it.KV()
	return &KV{Namespace: i.ns, Key: kv.Key, Value: bytes.Clone(kv.Value)}, nil
}

func (i *stateIter) Close() error { return i.it.Close() }

type historyIter struct {
	mods []state.KeyModification
}

func (h *historyIter) HasNext() bool { return len(h.mods) > 0 }

func (h *historyIter) Next() (*KeyModification, error) {
	if len(h.mods) == 0 {
		return nil, fmt.Errorf("%w: iterator exhausted", ErrInvalidArgument)
	}
	m := h.mods[0]
	h.mods = h.mods[1:]
	return &m, nil
}

func (h *historyIter) Close() error { return nil }

type txContext struct {
	stub Stub
	cid  ClientIdentity
}

func (c *txContext) GetStub() Stub                     { return c.stub }
func (c *txContext) GetClientIdentity() ClientIdentity { return c.cid }

// clientIdentity implements ClientIdentity over a validated identity.
type clientIdentity struct{ id *identity.Identity }

func (c clientIdentity) check() error {
	if c.id == nil {
		return fmt.Errorf("chaincode: transaction has no creator")
	}
	return nil
}

func (c clientIdentity) GetID() (string, error) {
	if err := c.check(); err != nil {
		return "", err
	}
	return c.id.ID(), nil
}

func (c clientIdentity) GetMSPID() (string, error) {
	if err := c.check(); err != nil {
		return "", err
	}
	return c.id.MSPID(), nil
}

func (c clientIdentity) GetAttributeValue(name string) (string, bool, error) {
	if err := c.check(); err != nil {
		return "", false, err
	}
	v, ok := c.id.Attribute(name)
	return v, ok, nil
}

func (c clientIdentity) AssertAttributeValue(name, value string) error {
	v, ok, err := c.GetAttributeValue(name)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("attribute '%s' was not found", name)
	}
	if v != value {
		return fmt.Errorf("attribute '%s' equals '%s', not '%s'", name, v, value)
	}
	return nil
}

func (c clientIdentity) GetX509Certificate() (*x509.Certificate, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	return c.id.Certificate(), nil
}

func (c clientIdentity) GetRole() identity.Role {
	if c.id == nil {
		return ""
	}
	return c.id.Role()
}
