// Package memledger runs the medshare contracts in memory for the gateway's
// unit tests: the four channels (main with index; the three side channels
// with storage, ptl and provenance) on network/chaincode/chaincodetest,
// initialised as scripts/network.sh deploys them (txbuild.DefaultInits),
// behind the gateway's ledger.Ledger seam. Transactions carry the wall
// clock, so proofs made now are fresh. A fault hook makes chosen calls fail
// as an unreachable ledger would.
package memledger

import (
	"context"
	"crypto/x509"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/gateway/indexcache"
	"github.com/medshare/medshare/gateway/ledger"
	"github.com/medshare/medshare/network/chaincode"
	"github.com/medshare/medshare/network/chaincode/chaincodetest"
	"github.com/medshare/medshare/network/client"
	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/lifecycle"
)

// Network is the four in-memory channels.
type Network struct {
	ledgers map[string]*chaincodetest.Ledger

	mu     sync.Mutex
	fault  func(txbuild.Call) error
	calls  []txbuild.Call
	evals  []txbuild.Call
	height uint64                                 // main's blocks: one per committed index write
	events []*client.ChaincodeEvent               // block i's event
	subs   map[chan *client.ChaincodeEvent]uint64 // index event subscribers, by start
}

// New deploys the contracts and configures them through the lifecycle, as
// the channels' organisations do: admins (a majority of members'
// organisations) approve each definition and the first commits it. aaKey
// is the attribute authority's credential key (PKIX DER); auditors are the
// identities (unique names) the configurations let read all audit data.
func New(t testing.TB, members *identity.Membership, admins []*identity.Signer, aaKey []byte, auditors []string) *Network {
	t.Helper()
	n := &Network{ledgers: map[string]*chaincodetest.Ledger{}}
	build := map[string]func() (*chaincode.Chaincode, error){
		index.Name: index.New, storage.Name: storage.New, ptl.Name: ptl.New, provenance.Name: provenance.New,
	}
	n.ledgers[txbuild.MainChannel] = chaincodetest.New(txbuild.MainChannel)
	for _, sc := range txbuild.SideChannels {
		n.ledgers[sc.Channel] = chaincodetest.New(sc.Channel)
	}
	for _, l := range n.ledgers {
		l.SetMembers(members)
		l.Deploy(lifecycle.Name, lifecycle.New(members.IDs, func(string) bool { return true }))
	}
	deploy := func(ch, name string) {
		cc, err := build[name]()
		if err != nil {
			t.Fatal(err)
		}
		n.ledgers[ch].Deploy(name, cc)
	}
	deploy(txbuild.MainChannel, index.Name)
	for _, sc := range txbuild.SideChannels {
		for _, name := range []string{storage.Name, ptl.Name, provenance.Name} {
			deploy(sc.Channel, name)
		}
	}
	inits, err := txbuild.DefaultInits(aaKey, nil, txbuild.DefaultMonitor, auditors)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range inits {
		l := n.ledgers[c.Channel]
		l.SetTime(time.Now())
		def, err := txbuild.ConfigDefinition(c, "1", 1)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := lifecycle.EncodeDefinition(def)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range admins {
			if _, err := l.SubmitBytes(a, lifecycle.Name, lifecycle.FnApprove, raw); err != nil {
				t.Fatalf("memledger: approve %s: %v", c, err)
			}
		}
		if _, err := l.Submit(admins[0], lifecycle.Name, lifecycle.FnCommit, c.Chaincode); err != nil {
			t.Fatalf("memledger: commit %s: %v", c, err)
		}
	}
	return n
}

// AAKeyDER returns the PKIX DER of an ECDSA public key, for New.
func AAKeyDER(t testing.TB, s interface{ Public() any }) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// SetFault installs f: every call for which f returns an error fails with
// ledger.ErrUnavailable wrapping it, writing nothing. nil removes it.
func (n *Network) SetFault(f func(txbuild.Call) error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.fault = f
}

// Calls returns the submitted calls so far, in order.
func (n *Network) Calls() []txbuild.Call {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]txbuild.Call(nil), n.calls...)
}

// Evaluated returns the calls evaluated so far, in order.
func (n *Network) Evaluated() []txbuild.Call {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]txbuild.Call(nil), n.evals...)
}

// Channel returns a channel's in-memory ledger, for inspection.
func (n *Network) Channel(name string) *chaincodetest.Ledger { return n.ledgers[name] }

// As returns a Ledger submitting as who.
func (n *Network) As(who *identity.Signer) ledger.Ledger { return &as{n: n, who: who} }

type as struct {
	n   *Network
	who *identity.Signer
}

func (a *as) ledger(c txbuild.Call) (*chaincodetest.Ledger, error) {
	a.n.mu.Lock()
	f := a.n.fault
	a.n.mu.Unlock()
	if f != nil {
		if err := f(c); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ledger.ErrUnavailable, c, err)
		}
	}
	l, ok := a.n.ledgers[c.Channel]
	if !ok {
		return nil, &ledger.RefusedError{Call: c.String(), Message: "channel " + c.Channel + " is not joined"}
	}
	return l, nil
}

func (a *as) Submit(ctx context.Context, c txbuild.Call) (ledger.Result, error) {
	if err := ctx.Err(); err != nil {
		return ledger.Result{}, fmt.Errorf("%w: %w", ledger.ErrUnavailable, err)
	}
	l, err := a.ledger(c)
	if err != nil {
		return ledger.Result{}, err
	}
	a.n.mu.Lock()
	a.n.calls = append(a.n.calls, c)
	a.n.mu.Unlock()
	l.SetTime(time.Now())
	res, err := l.Submit(a.who, c.Chaincode, c.Fn, c.Args...)
	if err != nil {
		return ledger.Result{}, ledger.Refused(c, "", err)
	}
	if c.Channel == txbuild.MainChannel && c.Chaincode == index.Name && c.Fn == "PutRecord" {
		a.n.publish(&client.ChaincodeEvent{TransactionID: res.TxID, ChaincodeName: index.Name, EventName: index.EventRecord, Payload: res.Payload})
	}
	return ledger.Result{Payload: res.Payload, TxID: res.TxID}, nil
}

func (a *as) Evaluate(ctx context.Context, c txbuild.Call) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ledger.ErrUnavailable, err)
	}
	l, err := a.ledger(c)
	if err != nil {
		return nil, err
	}
	a.n.mu.Lock()
	a.n.evals = append(a.n.evals, c)
	a.n.mu.Unlock()
	l.SetTime(time.Now())
	b, err := l.Evaluate(a.who, c.Chaincode, c.Fn, c.Args...)
	if err != nil {
		return nil, ledger.Refused(c, "", err)
	}
	return b, nil
}

// IndexEvents is main's index chaincode as a gateway's index cache follows
// it: each committed PutRecord is a block with its Record event (the
// entry, as the chaincode emits it).
func (n *Network) IndexEvents() indexcache.Source { return indexEvents{n} }

type indexEvents struct{ n *Network }

func (e indexEvents) Height(context.Context) (uint64, error) {
	e.n.mu.Lock()
	defer e.n.mu.Unlock()
	return e.n.height, nil
}

// Events delivers the events of blocks from start on; the channel closes
// when ctx ends.
func (e indexEvents) Events(ctx context.Context, start uint64) (<-chan *client.ChaincodeEvent, error) {
	ch := make(chan *client.ChaincodeEvent, 1024)
	e.n.mu.Lock()
	if e.n.subs == nil {
		e.n.subs = map[chan *client.ChaincodeEvent]uint64{}
	}
	for i := start; i < uint64(len(e.n.events)) && len(ch) < cap(ch); i++ {
		ch <- e.n.events[i]
	}
	e.n.subs[ch] = start
	e.n.mu.Unlock()
	go func() {
		<-ctx.Done()
		e.n.mu.Lock()
		delete(e.n.subs, ch)
		close(ch)
		e.n.mu.Unlock()
	}()
	return ch, nil
}

// publish commits a block with ev on main and hands it to the subscribers
// (dropping it for one that fell 1024 events behind: such a test is
// broken anyway).
func (n *Network) publish(ev *client.ChaincodeEvent) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ev.BlockNumber = n.height
	n.height++
	n.events = append(n.events, ev)
	for ch, start := range n.subs {
		if ev.BlockNumber < start {
			continue
		}
		select {
		case ch <- ev:
		default:
		}
	}
}
