// Package chaincodetest is an in-memory ledger for chaincode unit tests. It
// runs transactions through the same chaincode.Execute and stub code as the
// network does, over an in-memory world state with history, and commits a
// transaction's writes only if it succeeds, as the network does.
//
//	l := chaincodetest.New("side-high")
//	l.Deploy("storage", cc)
//	org := chaincodetest.NewOrg(t, "Hospital1MSP")
//	alice := org.Client(t, "dr-alice", map[string]string{"trust": "3"})
//	res, err := l.Submit(alice, "storage", "Store", "rec-1", "...")
package chaincodetest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/medshare/medshare/network/chaincode"
	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/state"
)

// Ledger is an in-memory channel: deployed chaincodes, a world state and its
// history, and a clock. It is safe for concurrent use; transactions run one
// at a time, as in a block.
type Ledger struct {
	mu        sync.Mutex
	channel   string
	store     *state.MemStore
	chaincode map[string]chaincode.Invoker
	now       time.Time
	seq       uint64
	events    []chaincode.Event
	members   chaincode.Members
}

// New returns an empty ledger for the named channel. Its clock starts at
// 2026-01-01T00:00:00Z.
func New(channel string) *Ledger {
	return &Ledger{
		channel:   channel,
		store:     state.NewMemStore(),
		chaincode: make(map[string]chaincode.Invoker),
		now:       time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

// Deploy makes a chaincode callable under name.
func (l *Ledger) Deploy(name string, cc chaincode.Invoker) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.chaincode[name] = cc
}

// SetMembers sets the channel membership chaincode reads with
// chaincode.ChannelMembers (none by default).
func (l *Ledger) SetMembers(m chaincode.Members) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.members = m
}

// Now is the time the next transaction will carry.
func (l *Ledger) Now() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.now
}

// SetTime sets the time the next transactions carry.
func (l *Ledger) SetTime(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.now = t
}

// Advance moves the clock forward by d.
func (l *Ledger) Advance(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.now = l.now.Add(d)
}

// Store is the committed world state, for inspection and for corrupting it
// in tests.
func (l *Ledger) Store() *state.MemStore { return l.store }

// Events returns every event committed so far, oldest first.
func (l *Ledger) Events() []chaincode.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// Result is a committed transaction.
type Result struct {
	TxID    string
	Payload []byte
	Events  []chaincode.Event
	Writes  []state.Write
}

// Submit runs a transaction and commits its writes if it succeeds. An error
// means the transaction failed and nothing was written.
func (l *Ledger) Submit(creator *identity.Signer, cc, fn string, args ...string) (*Result, error) {
	return l.SubmitBytes(creator, cc, fn, toBytes(args)...)
}

// SubmitBytes is Submit with binary arguments.
func (l *Ledger) SubmitBytes(creator *identity.Signer, cc, fn string, args ...[]byte) (*Result, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	res, txID, ts, err := l.run(creator, cc, fn, args, false)
	if err != nil {
		return nil, err
	}
	l.store.Commit(txID, ts, res.Writes)
	l.events = append(l.events, res.Events...)
	return &Result{TxID: txID, Payload: res.Payload, Events: res.Events, Writes: res.Writes}, nil
}

// Evaluate runs a read-only query and returns its payload.
func (l *Ledger) Evaluate(creator *identity.Signer, cc, fn string, args ...string) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	res, _, _, err := l.run(creator, cc, fn, toBytes(args), true)
	if err != nil {
		return nil, err
	}
	return res.Payload, nil
}

func (l *Ledger) run(creator *identity.Signer, name, fn string, args [][]byte, readOnly bool) (chaincode.Result, string, time.Time, error) {
	cc, ok := l.chaincode[name]
	if !ok {
		return chaincode.Result{}, "", time.Time{}, fmt.Errorf("chaincodetest: chaincode %q is not deployed", name)
	}
	if creator == nil {
		return chaincode.Result{}, "", time.Time{}, fmt.Errorf("chaincodetest: no creator")
	}
	l.seq++
	sum := sha256.Sum256(fmt.Appendf(nil, "%d|%s", l.seq, creator.ID()))
	txID := hex.EncodeToString(sum[:])
	inv := chaincode.Invocation{
		ChannelID: l.channel,
		Chaincode: name,
		TxID:      txID,
		Timestamp: l.now,
		Args:      append([][]byte{[]byte(fn)}, args...),
		Creator:   creator.Identity,
		ReadOnly:  readOnly,
		Resolve: func(_ state.Reader, n string) (chaincode.Invoker, bool) {
			c, ok := l.chaincode[n]
			return c, ok
		},
		Members: l.members,
	}
	res := chaincode.Execute(cc, inv, l.store, l.store)
	if res.Err != nil {
		return res, txID, l.now, res.Err
	}
	return res, txID, l.now, nil
}

func toBytes(args []string) [][]byte {
	out := make([][]byte, len(args))
	for i, a := range args {
		out[i] = []byte(a)
	}
	return out
}

// Org is a test organisation with its own CA.
type Org struct {
	CA *identity.CA
}

// NewOrg creates an organisation whose CA is valid through 2030.
func NewOrg(t testing.TB, mspID string) *Org {
	t.Helper()
	ca, err := identity.NewCA(rand.Reader, mspID, mspID, "ca."+mspID,
		time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return &Org{CA: ca}
}

// Member issues an identity with the given role and attributes.
func (o *Org) Member(t testing.TB, name string, role identity.Role, attrs map[string]string) *identity.Signer {
	t.Helper()
	s, err := o.CA.IssueSigner(rand.Reader, identity.Request{
		CommonName: name, Role: role, Attributes: attrs,
		NotBefore: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Client issues a client identity with attributes.
func (o *Org) Client(t testing.TB, name string, attrs map[string]string) *identity.Signer {
	return o.Member(t, name, identity.RoleClient, attrs)
}

// Admin issues an administrator identity.
func (o *Org) Admin(t testing.TB, name string) *identity.Signer {
	return o.Member(t, name, identity.RoleAdmin, nil)
}
