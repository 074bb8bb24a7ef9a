package indexcache

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/network/client"
)

// fakeSource is main on a node: a height and a stream the test feeds.
type fakeSource struct {
	mu      sync.Mutex
	height  uint64
	starts  []uint64
	streams chan chan *client.ChaincodeEvent
	fail    error
}

func newSource() *fakeSource {
	return &fakeSource{height: 7, streams: make(chan chan *client.ChaincodeEvent, 4)}
}

func (f *fakeSource) Height(context.Context) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.height, f.fail
}

func (f *fakeSource) Events(ctx context.Context, start uint64) (<-chan *client.ChaincodeEvent, error) {
	f.mu.Lock()
	f.starts = append(f.starts, start)
	f.mu.Unlock()
	ch := make(chan *client.ChaincodeEvent)
	f.streams <- ch
	return ch, nil
}

func entry(id string, ver uint64) *index.RecordEntry {
	return &index.RecordEntry{RecordID: id, OwnerMSP: "Hospital1MSP", PolicyVersion: ver, Levels: []index.LevelRef{{Level: "low", Version: ver}}}
}

func event(t *testing.T, e *index.RecordEntry) *client.ChaincodeEvent {
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return &client.ChaincodeEvent{EventName: index.EventRecord, ChaincodeName: index.Name, Payload: b, TransactionID: "tx"}
}

// loader counts node reads and answers ver.
type loader struct {
	mu    sync.Mutex
	calls int
	ver   uint64
	err   error
}

func (l *loader) load(id string) func(context.Context) (*index.RecordEntry, error) {
	return func(context.Context) (*index.RecordEntry, error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.calls++
		if l.err != nil {
			return nil, l.err
		}
		return entry(id, l.ver), nil
	}
}

// running starts a cache following src and waits until it serves.
func running(t *testing.T, src *fakeSource, cfg Config) (*Cache, chan *client.ChaincodeEvent, context.CancelFunc) {
	t.Helper()
	c, err := New(src, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	stream := <-src.streams
	waitFor(t, func() bool { return c.Stats().Live })
	return c, stream, cancel
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}

func get(t *testing.T, c *Cache, l *loader, id string) uint64 {
	t.Helper()
	e, err := c.Get(context.Background(), id, l.load(id))
	if err != nil {
		t.Fatal(err)
	}
	return e.PolicyVersion
}

func TestServesFromCacheAfterAFill(t *testing.T) {
	c, _, _ := running(t, newSource(), DefaultConfig())
	l := &loader{ver: 1}
	for range 3 {
		if v := get(t, c, l, "r1"); v != 1 {
			t.Fatalf("version %d, want 1", v)
		}
	}
	if l.calls != 1 {
		t.Fatalf("the node was read %d times, want 1", l.calls)
	}
}

func TestEventReplacesEntry(t *testing.T) {
	src := newSource()
	c, stream, _ := running(t, src, DefaultConfig())
	l := &loader{ver: 1}
	get(t, c, l, "r1")
	stream <- event(t, entry("r1", 2))
	waitFor(t, func() bool { return c.Stats().Events == 1 })
	if v := get(t, c, l, "r1"); v != 2 {
		t.Fatalf("after the event: version %d, want 2", v)
	}
	if l.calls != 1 {
		t.Fatalf("the node was read %d times, want 1", l.calls)
	}
	if src.starts[0] != 7 {
		t.Fatalf("followed from block %d, want the height 7", src.starts[0])
	}
}

// A fill whose read began before an event must not overwrite the event's
// newer entry.
func TestStaleFillLosesToEvent(t *testing.T) {
	c, stream, _ := running(t, newSource(), DefaultConfig())
	loading, release := make(chan struct{}), make(chan struct{})
	slow := func(context.Context) (*index.RecordEntry, error) {
		close(loading)
		<-release
		return entry("r1", 1), nil // what the node held before the event
	}
	got := make(chan *index.RecordEntry)
	go func() {
		e, _ := c.Get(context.Background(), "r1", slow)
		got <- e
	}()
	<-loading
	stream <- event(t, entry("r1", 2))
	waitFor(t, func() bool { return c.Stats().Events == 1 })
	close(release)
	if e := <-got; e.PolicyVersion != 1 {
		t.Fatalf("the slow read answers what it read: %d", e.PolicyVersion)
	}
	l := &loader{ver: 9}
	if v := get(t, c, l, "r1"); v != 2 {
		t.Fatalf("the cache holds version %d, want the event's 2", v)
	}
}

// A fill whose read began before an invalidation is not kept either.
func TestFillAfterInvalidateIsDropped(t *testing.T) {
	c, _, _ := running(t, newSource(), DefaultConfig())
	loading, release := make(chan struct{}), make(chan struct{})
	slow := func(context.Context) (*index.RecordEntry, error) {
		close(loading)
		<-release
		return entry("r1", 1), nil
	}
	done := make(chan struct{})
	go func() { defer close(done); c.Get(context.Background(), "r1", slow) }()
	<-loading
	c.Invalidate("r1")
	close(release)
	<-done
	l := &loader{ver: 2}
	if v := get(t, c, l, "r1"); v != 2 || l.calls != 1 {
		t.Fatalf("version %d after %d node reads, want 2 read from the node", v, l.calls)
	}
}

func TestInvalidateForcesANodeRead(t *testing.T) {
	c, _, _ := running(t, newSource(), DefaultConfig())
	l := &loader{ver: 1}
	get(t, c, l, "r1")
	l.ver = 2
	c.Invalidate("r1")
	if v := get(t, c, l, "r1"); v != 2 || l.calls != 2 {
		t.Fatalf("version %d after %d node reads, want 2 after 2", v, l.calls)
	}
}

func TestErrorsAndNotFoundAreNotCached(t *testing.T) {
	c, _, _ := running(t, newSource(), DefaultConfig())
	notFound := errors.New("record r1 is not indexed")
	l := &loader{err: notFound}
	for range 2 {
		if _, err := c.Get(context.Background(), "r1", l.load("r1")); !errors.Is(err, notFound) {
			t.Fatalf("err %v, want the loader's", err)
		}
	}
	if l.calls != 2 || c.Stats().Entries != 0 {
		t.Fatalf("%d node reads, %d entries: a refusal must not be cached", l.calls, c.Stats().Entries)
	}
}

// A load answering another record's entry (a confused or hostile node
// reply) is returned but not cached under the asked id.
func TestFillUnderAnotherIDIsNotCached(t *testing.T) {
	c, _, _ := running(t, newSource(), DefaultConfig())
	other := func(context.Context) (*index.RecordEntry, error) { return entry("r2", 1), nil }
	if _, err := c.Get(context.Background(), "r1", other); err != nil {
		t.Fatal(err)
	}
	if n := c.Stats().Entries; n != 0 {
		t.Fatalf("%d entries", n)
	}
}

// Until the stream is up, and after it fails, every read goes to the node
// and nothing is served from before the failure.
func TestStreamLossEmptiesAndBypasses(t *testing.T) {
	src := newSource()
	cfg := DefaultConfig()
	cfg.RetryInterval = 200 * time.Millisecond
	c, stream, _ := running(t, src, cfg)
	l := &loader{ver: 1}
	get(t, c, l, "r1")
	src.mu.Lock()
	src.height = 12
	src.mu.Unlock()
	close(stream)
	waitFor(t, func() bool { return !c.Stats().Live })
	if n := c.Stats().Entries; n != 0 {
		t.Fatalf("%d entries kept after the stream failed", n)
	}
	l.ver = 2
	if v := get(t, c, l, "r1"); v != 2 || l.calls != 2 {
		t.Fatalf("version %d after %d reads while the stream is down, want 2 after 2", v, l.calls)
	}
	// It follows again from the node's height at the time.
	<-src.streams
	waitFor(t, func() bool { return c.Stats().Live })
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.starts[len(src.starts)-1] != 12 {
		t.Fatalf("resubscribed from %v, want 12", src.starts)
	}
}

func TestUnreadableEventStopsServing(t *testing.T) {
	src := newSource()
	cfg := DefaultConfig()
	cfg.RetryInterval = time.Hour
	c, stream, _ := running(t, src, cfg)
	get(t, c, &loader{ver: 1}, "r1")
	stream <- &client.ChaincodeEvent{EventName: index.EventRecord, Payload: []byte("{not json")}
	waitFor(t, func() bool { return !c.Stats().Live })
	if n := c.Stats().Entries; n != 0 {
		t.Fatalf("%d entries kept", n)
	}
}

func TestBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxEntries = 3
	c, stream, _ := running(t, newSource(), cfg)
	for i, id := range []string{"a", "b", "c", "d", "e"} {
		stream <- event(t, entry(id, uint64(i+1)))
	}
	waitFor(t, func() bool { return c.Stats().Events == 5 })
	if n := c.Stats().Entries; n != 3 {
		t.Fatalf("%d entries, want at most 3", n)
	}
}

func TestConfig(t *testing.T) {
	for _, cfg := range []Config{{MaxEntries: 0, RetryInterval: time.Second, Logger: DefaultConfig().Logger},
		{MaxEntries: 1, Logger: DefaultConfig().Logger}, {MaxEntries: 1, RetryInterval: time.Second}} {
		if _, err := New(newSource(), cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
	if _, err := New(nil, DefaultConfig()); err == nil {
		t.Error("a nil source accepted")
	}
}

// Callers get copies: changing one does not change the cache.
func TestEntriesAreCopies(t *testing.T) {
	c, _, _ := running(t, newSource(), DefaultConfig())
	l := &loader{ver: 1}
	e, _ := c.Get(context.Background(), "r1", l.load("r1"))
	e.Levels[0].Level = "high"
	e2, _ := c.Get(context.Background(), "r1", l.load("r1"))
	if e2.Levels[0].Level != "low" {
		t.Fatal("a caller changed the cached entry")
	}
}
