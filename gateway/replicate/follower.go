package replicate

import (
	"container/heap"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/medshare/medshare/gateway/ipfs"
	"github.com/medshare/medshare/network/client"
)

// Events is a channel's event source: *client.Network.
type Events interface {
	ChaincodeEvents(ctx context.Context, chaincode string, options ...client.ChaincodeEventsOption) (<-chan *client.ChaincodeEvent, error)
}

// Ledger gives a channel's event source.
type Ledger interface {
	Network(channel string) Events
}

// FromGateway is the Ledger of a network/client Gateway (the gateway's
// connection to its organisation's node).
func FromGateway(gw *client.Gateway) Ledger { return gatewayLedger{gw} }

type gatewayLedger struct{ gw *client.Gateway }

func (g gatewayLedger) Network(channel string) Events { return g.gw.GetNetwork(channel) }

// Kubo is what the follower asks of its organisation's kubo: *ipfs.Client.
// Cat must be bounded by MaxObjectSize (ErrTooLarge beyond).
type Kubo interface {
	Pinned(ctx context.Context, cid string) (bool, error)
	Cat(ctx context.Context, cid string) ([]byte, error)
	MaxObjectSize() int64
	Pin(ctx context.Context, cid string) error
	Unpin(ctx context.Context, cid string) error
}

// Follower pins what the followed streams index; see the package
// documentation for its guarantees. Run runs it; Status, Unpin and the
// prometheus.Collector methods may be called at any time.
type Follower struct {
	cfg    Config
	ledger Ledger
	kubo   Kubo
	log    *slog.Logger

	mu       sync.Mutex
	next     map[string]uint64 // per stream: block to resume from
	unpinned map[string]bool
	items    map[string]*item // pending decisions by address
	fresh    []*item          // never attempted, first in first out
	retry    retryHeap        // attempted and failed, by due time
	dirty    bool
	streams  map[string]*StreamStatus
	counts   Counts
	lastErr  string
	running  bool

	wake chan struct{}
}

type item struct {
	cid      string
	action   Action
	first    time.Time
	attempts int
	due      time.Time
	inflight bool
	redo     bool // the action changed while an attempt was running
	index    int  // in retry, or -1
}

// New returns a follower that resumes from cfg.StateFile.
func New(ledger Ledger, kubo Kubo, cfg Config) (*Follower, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if ledger == nil || kubo == nil {
		return nil, errors.New("replicate: a ledger and a kubo client are required")
	}
	st, err := loadState(cfg.StateFile)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	f := &Follower{
		cfg: cfg, ledger: ledger, kubo: kubo, log: log,
		next: st.Next, unpinned: map[string]bool{}, items: map[string]*item{},
		streams: map[string]*StreamStatus{}, wake: make(chan struct{}, 1),
	}
	for _, c := range st.Unpinned {
		f.unpinned[c] = true
	}
	for _, p := range st.Pending {
		it := &item{cid: p.CID, action: p.Action, first: p.First, index: -1}
		f.items[p.CID] = it
		f.fresh = append(f.fresh, it)
	}
	for _, s := range cfg.Streams {
		f.streams[s.String()] = &StreamStatus{Stream: s, NextBlock: f.next[s.String()]}
	}
	return f, nil
}

// Run follows the streams and carries out the decisions until ctx ends,
// then saves the state and returns nil, or the error of that last save.
func (f *Follower) Run(ctx context.Context) error {
	f.mu.Lock()
	if f.running {
		f.mu.Unlock()
		return errors.New("replicate: the follower is already running")
	}
	f.running = true
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.running = false; f.mu.Unlock() }()

	var wg sync.WaitGroup
	for range f.cfg.Workers {
		wg.Go(func() { f.work(ctx) })
	}
	for _, s := range f.cfg.Streams {
		wg.Go(func() { f.follow(ctx, s) })
	}
	wg.Go(func() {
		t := time.NewTicker(f.cfg.SaveInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := f.save(); err != nil {
					f.log.Error("replication state not saved", "err", err)
				}
			}
		}
	})
	wg.Wait()
	return f.save()
}

// Unpin lets an address go everywhere this follower is concerned (for the
// gateway's recall): it is unpinned, with retries, and never pinned again.
func (f *Follower) Unpin(cid string) {
	f.mu.Lock()
	f.decide(Decision{Action: Unpin, CID: cid}, time.Now())
	f.mu.Unlock()
}

// follow reads one stream's events, reconnecting with backoff, from the
// block recorded in the state on.
func (f *Follower) follow(ctx context.Context, s Stream) {
	key := s.String()
	backoff := f.cfg.MinBackoff
	for ctx.Err() == nil {
		f.mu.Lock()
		start := f.next[key]
		f.mu.Unlock()
		events, err := f.ledger.Network(s.Channel).ChaincodeEvents(ctx, s.Chaincode, client.WithStartBlock(start))
		if err == nil {
			f.setStream(key, true, "")
			began, got := time.Now(), false
			for ev := range events {
				got = true
				f.take(key, s.Channel, ev)
			}
			if got || time.Since(began) > 10*time.Second {
				backoff = f.cfg.MinBackoff
			}
			err = errors.New("event stream ended")
		}
		if ctx.Err() != nil {
			break
		}
		f.setStream(key, false, err.Error())
		f.log.Warn("replication stream down; reconnecting", "stream", key, "from_block", start, "in", backoff, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(jitter(backoff)):
		}
		backoff = min(2*backoff, f.cfg.MaxBackoff)
	}
	f.setStream(key, false, "stopped")
}

// take records an event's decisions and moves the stream's resume point to
// its block.
func (f *Follower) take(key, channel string, ev *client.ChaincodeEvent) {
	ds, err := f.cfg.Map(channel, ev)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		f.counts.BadEvents++
		f.lastErr = err.Error()
		f.log.Error("replication: event skipped", "stream", key, "block", ev.BlockNumber, "tx", ev.TransactionID, "err", err)
	}
	now := time.Now()
	for _, d := range ds {
		f.decide(d, now)
	}
	if ev.BlockNumber > f.next[key] {
		f.next[key] = ev.BlockNumber
		f.dirty = true
	}
	st := f.streams[key]
	st.NextBlock, st.LastEvent = f.next[key], now
}

// decide queues a decision; f.mu is held.
func (f *Follower) decide(d Decision, now time.Time) {
	if d.Action == Unpin {
		if !f.unpinned[d.CID] {
			f.unpinned[d.CID] = true
			f.dirty = true
		}
	} else if f.unpinned[d.CID] {
		return
	}
	if it, ok := f.items[d.CID]; ok {
		if it.action != d.Action && d.Action == Unpin {
			it.action = Unpin
			if it.inflight {
				it.redo = true
			}
			f.dirty = true
		}
		return
	}
	it := &item{cid: d.CID, action: d.Action, first: now, index: -1}
	f.items[d.CID] = it
	f.fresh = append(f.fresh, it)
	f.dirty = true
	f.notify()
}

func (f *Follower) notify() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// work carries out decisions until ctx ends.
func (f *Follower) work(ctx context.Context) {
	for {
		it := f.nextItem(ctx)
		if it == nil {
			return
		}
		actx, cancel := context.WithTimeout(ctx, f.cfg.AttemptTimeout)
		already, err := f.attempt(actx, it.cid, it.action)
		cancel()
		if ctx.Err() != nil {
			f.mu.Lock()
			it.inflight = false
			f.fresh = append(f.fresh, it) // saved as pending
			f.mu.Unlock()
			return
		}
		f.finish(it, already, err)
	}
}

// nextItem waits for a decision that is due: new ones first, then retries
// whose time has come.
func (f *Follower) nextItem(ctx context.Context) *item {
	for {
		f.mu.Lock()
		var it *item
		wait := time.Hour
		switch {
		case len(f.fresh) > 0:
			it = f.fresh[0]
			f.fresh = f.fresh[1:]
		case len(f.retry) > 0:
			if d := time.Until(f.retry[0].due); d <= 0 {
				it = heap.Pop(&f.retry).(*item)
			} else {
				wait = d
			}
		}
		if it != nil {
			it.inflight = true
			if len(f.fresh) > 0 || len(f.retry) > 0 {
				f.notify() // let another worker look
			}
			f.mu.Unlock()
			return it
		}
		f.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-f.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// attempt carries out one decision. A pin first asks whether the object is
// pinned (the owner's own uploads are), then fetches it bounded by the
// client's maximum object size, then pins it. A single raw block needs no
// bounded fetch when the bound is at least ipfs.MaxBlockBytes: the pin
// cannot fetch more than that for it (one call less for every small
// object, which is most of them).
// It reports whether the object was pinned already.
func (f *Follower) attempt(ctx context.Context, cid string, a Action) (bool, error) {
	if a == Unpin {
		return false, f.kubo.Unpin(ctx, cid)
	}
	pinned, err := f.kubo.Pinned(ctx, cid)
	if err != nil || pinned {
		return pinned, err
	}
	if !ipfs.SingleBlock(cid) || f.kubo.MaxObjectSize() < ipfs.MaxBlockBytes {
		if _, err := f.kubo.Cat(ctx, cid); err != nil {
			return false, err
		}
	}
	return false, f.kubo.Pin(ctx, cid)
}

// permanent reports errors that no retry can cure.
func permanent(err error) bool {
	return errors.Is(err, ipfs.ErrTooLarge) || errors.Is(err, ipfs.ErrInvalidCID)
}

func (f *Follower) finish(it *item, already bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	it.inflight = false
	if it.redo {
		it.redo, it.attempts = false, 0
		f.fresh = append(f.fresh, it)
		f.notify()
		return
	}
	now := time.Now()
	switch {
	case err == nil:
		delete(f.items, it.cid)
		f.dirty = true
		switch {
		case it.action == Pin && already:
			f.counts.AlreadyPinned++
		case it.action == Pin:
			f.counts.Pinned++
		default:
			f.counts.Unpinned++
		}
		return
	case permanent(err):
		delete(f.items, it.cid)
		f.dirty = true
		f.counts.Refused++
		f.lastErr = err.Error()
		f.log.Error("replication: address refused", "cid", it.cid, "action", it.action.String(), "err", err)
		return
	case f.cfg.GiveUpAfter > 0 && now.Sub(it.first) > f.cfg.GiveUpAfter:
		delete(f.items, it.cid)
		f.dirty = true
		f.counts.Abandoned++
		f.lastErr = err.Error()
		f.log.Error("replication: gave up", "cid", it.cid, "action", it.action.String(), "attempts", it.attempts+1, "since", it.first, "err", err)
		return
	}
	it.attempts++
	f.counts.Failures++
	f.lastErr = err.Error()
	d := f.cfg.MinBackoff << min(it.attempts-1, 30)
	if d <= 0 || d > f.cfg.MaxBackoff {
		d = f.cfg.MaxBackoff
	}
	it.due = now.Add(jitter(d))
	heap.Push(&f.retry, it)
	f.notify()
	f.log.Warn("replication: attempt failed; retrying", "cid", it.cid, "action", it.action.String(), "attempt", it.attempts, "in", d, "err", err)
}

// jitter spreads d by up to a tenth, so retries do not march in step.
func jitter(d time.Duration) time.Duration {
	return d - time.Duration(rand.Int64N(int64(d)/10+1))
}

func (f *Follower) setStream(key string, up bool, err string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.streams[key]
	if st.Connected && !up {
		st.Reconnects++
	}
	st.Connected, st.Err = up, err
}

// save writes the state when it changed.
func (f *Follower) save() error {
	f.mu.Lock()
	if !f.dirty {
		f.mu.Unlock()
		return nil
	}
	st := &state{Version: stateVersion, Next: map[string]uint64{}}
	for k, v := range f.next {
		st.Next[k] = v
	}
	for _, it := range f.items {
		st.Pending = append(st.Pending, pendingItem{CID: it.cid, Action: it.action, First: it.first})
	}
	for c := range f.unpinned {
		st.Unpinned = append(st.Unpinned, c)
	}
	f.dirty = false
	f.mu.Unlock()
	slices.SortFunc(st.Pending, func(a, b pendingItem) int { return a.First.Compare(b.First) })
	slices.Sort(st.Unpinned)
	if err := st.save(f.cfg.StateFile); err != nil {
		f.mu.Lock()
		f.dirty = true
		f.mu.Unlock()
		return err
	}
	return nil
}

// retryHeap orders failed items by due time.
type retryHeap []*item

func (h retryHeap) Len() int           { return len(h) }
func (h retryHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h retryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *retryHeap) Push(x any)        { it := x.(*item); it.index = len(*h); *h = append(*h, it) }
func (h *retryHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	it.index = -1
	return it
}
