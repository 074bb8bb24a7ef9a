package replicate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gocid "github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/gateway/ipfs"
	"github.com/medshare/medshare/gateway/replicate"
	"github.com/medshare/medshare/network/client"
	"github.com/medshare/medshare/network/pb"
)

// fakeLedger serves each channel's events from a start block on, and keeps
// the stream open until the test cuts it or the context ends.
type fakeLedger struct {
	mu     sync.Mutex
	events map[string][]*client.ChaincodeEvent
	starts map[string][]uint64 // start blocks asked for, per channel
	cut    map[string]chan struct{}
	added  chan struct{}
}

func newLedger() *fakeLedger {
	return &fakeLedger{events: map[string][]*client.ChaincodeEvent{}, starts: map[string][]uint64{}, cut: map[string]chan struct{}{}, added: make(chan struct{}, 1)}
}

func (l *fakeLedger) Network(ch string) replicate.Events { return fakeNetwork{l, ch} }

type fakeNetwork struct {
	l  *fakeLedger
	ch string
}

func (n fakeNetwork) ChaincodeEvents(ctx context.Context, cc string, opts ...client.ChaincodeEventsOption) (<-chan *client.ChaincodeEvent, error) {
	req := &pb.ChaincodeEventsRequest{}
	for _, o := range opts {
		o(req)
	}
	l := n.l
	l.mu.Lock()
	l.starts[n.ch] = append(l.starts[n.ch], req.GetStartBlock())
	cut := make(chan struct{})
	l.cut[n.ch] = cut
	l.mu.Unlock()
	out := make(chan *client.ChaincodeEvent)
	go func() {
		defer close(out)
		sent := 0
		for {
			select { // a cut stream delivers nothing more, whatever else is ready
			case <-cut:
				return
			default:
			}
			l.mu.Lock()
			evs := l.events[n.ch]
			l.mu.Unlock()
			for ; sent < len(evs); sent++ {
				if evs[sent].BlockNumber < req.GetStartBlock() || evs[sent].ChaincodeName != cc {
					continue
				}
				select {
				case <-cut:
					return
				default:
				}
				select {
				case out <- evs[sent]:
				case <-ctx.Done():
					return
				case <-cut:
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-cut:
				return
			case <-l.added:
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return out, nil
}

// store appends a Stored event for cid at block on channel.
func (l *fakeLedger) store(ch string, block uint64, cid string) {
	payload, _ := json.Marshal(storage.Summary{RecordID: "rec-" + cid[len(cid)-6:], Version: 1, Address: cid})
	l.emit(ch, &client.ChaincodeEvent{BlockNumber: block, TransactionID: fmt.Sprintf("tx-%d-%s", block, cid), ChaincodeName: storage.Name, EventName: storage.EventStored, Payload: payload})
}

func (l *fakeLedger) emit(ch string, ev *client.ChaincodeEvent) {
	l.mu.Lock()
	l.events[ch] = append(l.events[ch], ev)
	l.mu.Unlock()
	select {
	case l.added <- struct{}{}:
	default:
	}
}

func (l *fakeLedger) cutStream(ch string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c := l.cut[ch]; c != nil {
		close(c)
		l.cut[ch] = nil
	}
}

func (l *fakeLedger) startsOf(ch string) []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]uint64(nil), l.starts[ch]...)
}

// fakeKubo holds pins; objects in swarm can be fetched and pinned.
type fakeKubo struct {
	mu      sync.Mutex
	down    bool
	swarm   map[string]int // object sizes
	pinned  map[string]bool
	maxSize int
	pins    int // Pin calls
	cats    int // Cat calls
}

func newKubo() *fakeKubo {
	return &fakeKubo{swarm: map[string]int{}, pinned: map[string]bool{}, maxSize: 1 << 20}
}

func (k *fakeKubo) check(cid string) error {
	if k.down {
		return fmt.Errorf("%w: connection refused", ipfs.ErrUnavailable)
	}
	if _, ok := ipfs.RawCID(nil); !ok || !strings.HasPrefix(cid, "b") {
		return ipfs.ErrInvalidCID
	}
	return nil
}

func (k *fakeKubo) Pinned(_ context.Context, cid string) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.check(cid); err != nil {
		return false, err
	}
	return k.pinned[cid], nil
}

func (k *fakeKubo) MaxObjectSize() int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return int64(k.maxSize)
}

func (k *fakeKubo) Cat(_ context.Context, cid string) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cats++
	if err := k.check(cid); err != nil {
		return nil, err
	}
	n, ok := k.swarm[cid]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ipfs.ErrNotFound, cid)
	}
	if n > k.maxSize {
		return nil, ipfs.ErrTooLarge
	}
	return make([]byte, n), nil
}

func (k *fakeKubo) Pin(_ context.Context, cid string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.check(cid); err != nil {
		return err
	}
	if _, ok := k.swarm[cid]; !ok {
		return ipfs.ErrNotFound
	}
	k.pins++
	k.pinned[cid] = true
	return nil
}

func (k *fakeKubo) Unpin(_ context.Context, cid string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.check(cid); err != nil {
		return err
	}
	delete(k.pinned, cid)
	return nil
}

func (k *fakeKubo) set(f func(k *fakeKubo)) { k.mu.Lock(); f(k); k.mu.Unlock() }

func (k *fakeKubo) isPinned(cid string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.pinned[cid]
}

func cidOf(s string) string { return txbuild.RawCID([]byte(s)) }

func config(t *testing.T, state string) replicate.Config {
	c := replicate.DefaultConfig()
	c.StateFile = state
	c.SaveInterval, c.MinBackoff, c.MaxBackoff = 20*time.Millisecond, 10*time.Millisecond, 80*time.Millisecond
	c.AttemptTimeout, c.Workers = 5*time.Second, 3
	return c
}

// running starts a follower and returns a stop function that waits for Run.
func running(t *testing.T, l replicate.Ledger, k replicate.Kubo, cfg replicate.Config) (*replicate.Follower, func()) {
	t.Helper()
	f, err := replicate.New(l, k, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return f, stop
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPinsWhatTheSideChainsIndexAndResumes(t *testing.T) {
	l, k := newLedger(), newKubo()
	state := filepath.Join(t.TempDir(), "replication.json")
	a, b, c := cidOf("a"), cidOf("b"), cidOf("c")
	for _, x := range []string{a, b, c} {
		k.swarm[x] = 100
	}
	l.store("side-high", 3, a)
	l.store("side-low", 5, b)
	l.emit("side-low", &client.ChaincodeEvent{BlockNumber: 6, ChaincodeName: storage.Name, EventName: "SomethingElse", Payload: []byte(`{}`)})
	f, stop := running(t, l, k, config(t, state))
	eventually(t, "a and b are pinned", func() bool { return k.isPinned(a) && k.isPinned(b) })
	eventually(t, "the follower is idle", func() bool { return f.Status().Pending == 0 })
	stop()

	l.store("side-medium", 9, c)
	// A restart resumes each stream where it was: side-low from block 6.
	f2, _ := running(t, l, k, config(t, state))
	eventually(t, "c is pinned", func() bool { return k.isPinned(c) })
	eventually(t, "the restarted follower is idle", func() bool { return f2.Status().Pending == 0 })
	eventually(t, "three streams connected", func() bool { return f2.Status().Check(time.Minute) == nil })
	for ch, want := range map[string]uint64{"side-high": 3, "side-low": 6, "side-medium": 0} {
		starts := l.startsOf(ch)
		if got := starts[len(starts)-1]; got != want {
			t.Errorf("%s resumed from block %d, want %d (starts %v)", ch, got, want, starts)
		}
	}
	if st := f2.Status(); st.Pinned != 1 || st.AlreadyPinned > 1 {
		t.Errorf("the restarted follower pinned %d objects and found %d pinned; want the new one, and at most the last block's read again", st.Pinned, st.AlreadyPinned)
	}
}

func TestRetriesWhileKuboIsDownAndKeepsPendingAcrossRestarts(t *testing.T) {
	l, k := newLedger(), newKubo()
	state := filepath.Join(t.TempDir(), "replication.json")
	a := cidOf("a")
	k.swarm[a] = 10
	k.down = true
	l.store("side-high", 1, a)
	f, stop := running(t, l, k, config(t, state))
	eventually(t, "attempts failed", func() bool { return f.Status().Failures >= 2 })
	st := f.Status()
	if st.Pending != 1 || st.Retrying != 1 || !strings.Contains(st.LastError, "unavailable") {
		t.Fatalf("status while kubo is down: %+v", st)
	}
	time.Sleep(20 * time.Millisecond)
	if err := f.Status().Check(10 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "1 pins pending") {
		t.Fatalf("Check with a lagging pin = %v", err)
	}
	stop()
	raw, _ := os.ReadFile(state)
	if !strings.Contains(string(raw), a) {
		t.Fatalf("the pending pin is not in the saved state: %s", raw)
	}

	// The restarted follower reads no event again (the stream resumes at
	// block 1, already taken) yet pins from its saved pending work.
	k.set(func(k *fakeKubo) { k.down = false })
	l.mu.Lock()
	l.events = map[string][]*client.ChaincodeEvent{} // nothing to read again
	l.mu.Unlock()
	f2, _ := running(t, l, k, config(t, state))
	eventually(t, "a is pinned after the restart", func() bool { return k.isPinned(a) })
	eventually(t, "nothing pending", func() bool { return f2.Status().Pending == 0 })
}

func TestUnpinWinsWhateverTheOrder(t *testing.T) {
	l, k := newLedger(), newKubo()
	state := filepath.Join(t.TempDir(), "replication.json")
	a, b := cidOf("recalled"), cidOf("kept")
	k.swarm[a], k.swarm[b] = 10, 10
	recall := func(_ string, ev *client.ChaincodeEvent) ([]replicate.Decision, error) {
		if ev.EventName != "Recalled" {
			return nil, nil
		}
		return []replicate.Decision{{Action: replicate.Unpin, CID: string(ev.Payload)}}, nil
	}
	cfg := config(t, state)
	cfg.Map = replicate.Maps(replicate.StoredPins, recall)
	l.store("side-high", 1, a)
	f, stop := running(t, l, k, cfg)
	eventually(t, "a is pinned", func() bool { return k.isPinned(a) })
	l.emit("side-high", &client.ChaincodeEvent{BlockNumber: 2, ChaincodeName: storage.Name, EventName: "Recalled", Payload: []byte(a)})
	eventually(t, "a is unpinned", func() bool { return !k.isPinned(a) })
	// A Stored event read again later (a stream replayed from an older
	// block, another channel behind) does not pin it back.
	l.store("side-low", 3, a)
	l.store("side-low", 4, b)
	eventually(t, "b is pinned", func() bool { return k.isPinned(b) })
	if k.isPinned(a) {
		t.Fatal("a recalled address was pinned again")
	}
	// The gateway's own hook.
	f.Unpin(b)
	eventually(t, "b is unpinned", func() bool { return !k.isPinned(b) })
	stop()
	// And the restarted follower remembers.
	k.set(func(k *fakeKubo) { k.pinned = map[string]bool{} })
	l.mu.Lock()
	l.events = map[string][]*client.ChaincodeEvent{}
	l.mu.Unlock()
	l.store("side-medium", 1, a)
	l.store("side-medium", 2, b)
	f2, _ := running(t, l, k, cfg)
	eventually(t, "the streams are read", func() bool { return f2.Status().Streams[1].NextBlock == 2 })
	time.Sleep(50 * time.Millisecond)
	if k.isPinned(a) || k.isPinned(b) {
		t.Fatal("a restarted follower pinned unpinned addresses")
	}
}

// A dishonest owner's Tx_sto may name anything that looks like a CID: an
// object larger than the maximum is refused before it is pinned, an
// unreadable event is skipped, and the rest goes on.
func TestHostileEvents(t *testing.T) {
	l, k := newLedger(), newKubo()
	huge, fine := cidOf("huge"), cidOf("fine")
	k.swarm[huge], k.swarm[fine] = 2<<20, 10
	l.store("side-high", 1, huge)
	l.emit("side-high", &client.ChaincodeEvent{BlockNumber: 2, ChaincodeName: storage.Name, EventName: storage.EventStored, Payload: []byte(`{"address":`)})
	l.emit("side-high", &client.ChaincodeEvent{BlockNumber: 2, ChaincodeName: storage.Name, EventName: storage.EventStored, Payload: []byte(`{"address":""}`)})
	l.store("side-high", 3, "/ipns/example.org")
	l.store("side-high", 4, fine)
	f, _ := running(t, l, k, config(t, filepath.Join(t.TempDir(), "state.json")))
	eventually(t, "fine is pinned", func() bool { return k.isPinned(fine) })
	eventually(t, "two refused", func() bool { return f.Status().Refused == 2 })
	eventually(t, "the follower is idle", func() bool { return f.Status().Pending == 0 })
	st := f.Status()
	if k.isPinned(huge) || st.BadEvents != 2 || st.Pending != 0 {
		t.Fatalf("huge pinned %v, status %+v", k.isPinned(huge), st)
	}
}

// A raw CID is one block, which no peer can send larger than
// ipfs.MaxBlockBytes: under a bound at least that large the follower pins it
// without the bounded fetch; anything else (a UnixFS DAG) is fetched first.
func TestPinsASingleBlockWithoutFetchingIt(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxSize  int
		dag      bool
		wantCats int
	}{
		{"raw CID, 64 MiB bound", 64 << 20, false, 0},
		{"raw CID, bound of exactly one block", ipfs.MaxBlockBytes, false, 0},
		{"raw CID, bound below one block", 1 << 20, false, 1},
		{"dag-pb CID, 64 MiB bound", 64 << 20, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, k := newLedger(), newKubo()
			k.maxSize = tc.maxSize
			cid := cidOf("one block")
			if tc.dag {
				h, err := mh.Sum([]byte("a UnixFS root"), mh.SHA2_256, -1)
				if err != nil {
					t.Fatal(err)
				}
				cid = gocid.NewCidV1(gocid.DagProtobuf, h).String()
			}
			if ipfs.SingleBlock(cid) == tc.dag {
				t.Fatalf("SingleBlock(%s) = %v", cid, !tc.dag)
			}
			k.swarm[cid] = 100
			l.store("side-low", 1, cid)
			f, _ := running(t, l, k, config(t, filepath.Join(t.TempDir(), "state.json")))
			eventually(t, "the object is pinned", func() bool { return k.isPinned(cid) })
			eventually(t, "the follower is idle", func() bool { return f.Status().Pending == 0 })
			k.set(func(k *fakeKubo) {
				if k.cats != tc.wantCats {
					t.Errorf("%d bounded fetches, want %d", k.cats, tc.wantCats)
				}
			})
		})
	}
}

func TestGivesUpAfterTheLimit(t *testing.T) {
	l, k := newLedger(), newKubo()
	ghost := cidOf("in no repository")
	l.store("side-low", 1, ghost)
	cfg := config(t, filepath.Join(t.TempDir(), "state.json"))
	cfg.GiveUpAfter = 100 * time.Millisecond
	f, _ := running(t, l, k, cfg)
	eventually(t, "the ghost is abandoned", func() bool { return f.Status().Abandoned == 1 })
	if st := f.Status(); st.Pending != 0 || st.Failures == 0 {
		t.Fatalf("status %+v", st)
	}
}

func TestReconnectsAfterALostStream(t *testing.T) {
	l, k := newLedger(), newKubo()
	a, b := cidOf("a"), cidOf("b")
	k.swarm[a], k.swarm[b] = 1, 1
	l.store("side-high", 7, a)
	f, _ := running(t, l, k, config(t, filepath.Join(t.TempDir(), "state.json")))
	eventually(t, "a is pinned", func() bool { return k.isPinned(a) })
	l.cutStream("side-high")
	l.store("side-high", 8, b)
	eventually(t, "b is pinned", func() bool { return k.isPinned(b) })
	starts := l.startsOf("side-high")
	if len(starts) < 2 || starts[len(starts)-1] != 7 {
		t.Fatalf("stream starts %v; want a reconnection from block 7", starts)
	}
	if st := f.Status().Streams[0]; st.Reconnects == 0 || !st.Connected {
		t.Fatalf("stream status %+v", st)
	}
}

func TestCollector(t *testing.T) {
	f, err := replicate.New(newLedger(), newKubo(), config(t, filepath.Join(t.TempDir(), "s.json")))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(f); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{"medshare_replication_pending", "medshare_replication_oldest_pending_seconds", "medshare_replication_stream_up", "medshare_replication_next_block", "medshare_replication_done_total"} {
		if !names[n] {
			t.Errorf("metric %s missing", n)
		}
	}
}

func TestConfigAndStateAreChecked(t *testing.T) {
	dir := t.TempDir()
	for name, change := range map[string]func(*replicate.Config){
		"no state file":      func(c *replicate.Config) { c.StateFile = "" },
		"no streams":         func(c *replicate.Config) { c.Streams = nil },
		"repeated stream":    func(c *replicate.Config) { c.Streams = []replicate.Stream{{"a", "b"}, {"a", "b"}} },
		"no mapper":          func(c *replicate.Config) { c.Map = nil },
		"no workers":         func(c *replicate.Config) { c.Workers = 0 },
		"backoff inverted":   func(c *replicate.Config) { c.MaxBackoff = c.MinBackoff / 2 },
		"negative give-up":   func(c *replicate.Config) { c.GiveUpAfter = -1 },
		"zero save interval": func(c *replicate.Config) { c.SaveInterval = 0 },
	} {
		c := config(t, filepath.Join(dir, "s.json"))
		change(&c)
		if _, err := replicate.New(newLedger(), newKubo(), c); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	for name, content := range map[string]string{
		"not JSON":       "{",
		"other version":  `{"version":2}`,
		"bad pending":    `{"version":1,"pending":[{"cid":"","action":1}]}`,
		"unknown action": `{"version":1,"pending":[{"cid":"x","action":7}]}`,
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		os.WriteFile(p, []byte(content), 0o600)
		if _, err := replicate.New(newLedger(), newKubo(), config(t, p)); err == nil {
			t.Errorf("state %s: New succeeded", name)
		}
	}
	f, err := replicate.New(newLedger(), newKubo(), config(t, filepath.Join(dir, "fresh.json")))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.Run(ctx) }()
	time.Sleep(20 * time.Millisecond)
	if err := f.Run(ctx); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("a second Run: %v", err)
	}
	cancel()
	<-done
}
