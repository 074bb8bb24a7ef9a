package ipfs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/gateway/ipfs"
	"github.com/medshare/medshare/internal/kubo/kubotest"
)

func random(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func newClient(t testing.TB, api string, opts ...ipfs.Option) *ipfs.Client {
	t.Helper()
	c, err := ipfs.New(api, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pins lists the daemon's recursive pins straight from its API.
func pins(t testing.TB, api string) map[string]bool {
	t.Helper()
	resp, err := http.Post("http://"+api+"/api/v0/pin/ls?type=recursive", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Keys map[string]any }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for k := range out.Keys {
		set[k] = true
	}
	return set
}

func isPinned(t testing.TB, c *ipfs.Client, cid string) bool {
	t.Helper()
	ok, err := c.Pinned(context.Background(), cid)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestAddCatPin(t *testing.T) {
	s := kubotest.Start(t, 2, kubotest.Options{})
	ctx := context.Background()
	var mu sync.Mutex
	seen := map[ipfs.Op]int{}
	c := newClient(t, s.Nodes[0].APIAddr(), ipfs.WithObserver(func(op ipfs.Op, d time.Duration, err error) {
		mu.Lock()
		seen[op]++
		mu.Unlock()
	}))
	if err := c.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Peers(ctx); err != nil || n != 1 {
		t.Fatalf("Peers() = %d, %v; want 1", n, err)
	}

	t.Run("a small object is one raw block addressed by its SHA-256", func(t *testing.T) {
		data := random(t, 4<<10)
		cid, err := c.Add(ctx, data)
		if err != nil {
			t.Fatal(err)
		}
		if want := txbuild.RawCID(data); cid != want {
			t.Fatalf("Add CID = %s, want the raw CIDv1 %s", cid, want)
		}
		if !isPinned(t, c, cid) {
			t.Fatal("Add did not pin")
		}
		got, err := c.Cat(ctx, cid)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Cat = %d bytes, %v", len(got), err)
		}
	})

	t.Run("a large object is chunked under a UnixFS root and reads back whole", func(t *testing.T) {
		data := random(t, 700<<10)
		cid, err := c.Add(ctx, data)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(cid, "bafybei") {
			t.Fatalf("CID %s is not a CIDv1 dag-pb root", cid)
		}
		got, err := c.Cat(ctx, cid)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Cat = %d bytes, %v", len(got), err)
		}
	})

	t.Run("another daemon pins and serves what the first added, also once it is down", func(t *testing.T) {
		data := random(t, 300<<10)
		cid, err := c.AddNoPin(ctx, data)
		if err != nil {
			t.Fatal(err)
		}
		if isPinned(t, c, cid) {
			t.Fatal("AddNoPin pinned")
		}
		other := newClient(t, s.Nodes[1].APIAddr())
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := other.Pin(pctx, cid); err != nil {
			t.Fatal(err)
		}
		if err := other.Pin(pctx, cid); err != nil {
			t.Fatalf("pinning a pinned object: %v", err)
		}
		if !isPinned(t, other, cid) {
			t.Fatal("Pin did not pin")
		}
		if err := s.Nodes[0].Stop(); err != nil {
			t.Fatal(err)
		}
		got, err := other.Cat(ctx, cid)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Cat from the replica = %d bytes, %v", len(got), err)
		}
	})

	mu.Lock()
	defer mu.Unlock()
	if seen[ipfs.OpAdd] != 3 || seen[ipfs.OpCat] != 2 || seen[ipfs.OpPin] != 0 {
		t.Errorf("observer saw %v, want 3 adds and 2 cats on the first client", seen)
	}
}

func TestUnpin(t *testing.T) {
	s := kubotest.Start(t, 1, kubotest.Options{})
	ctx := context.Background()
	c := newClient(t, s.Nodes[0].APIAddr())
	cid, err := c.Add(ctx, random(t, 1000))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := c.Unpin(ctx, cid); err != nil {
			t.Fatalf("Unpin #%d: %v", i+1, err)
		}
	}
	if isPinned(t, c, cid) {
		t.Fatal("still pinned after Unpin")
	}
	if err := c.Unpin(ctx, txbuild.RawCID([]byte("never added"))); err != nil {
		t.Fatalf("Unpin of an unknown object: %v", err)
	}
}

func TestTooLarge(t *testing.T) {
	s := kubotest.Start(t, 1, kubotest.Options{})
	ctx := context.Background()
	api := s.Nodes[0].APIAddr()
	small := newClient(t, api, ipfs.WithMaxObjectSize(10<<10))
	before := pins(t, api)
	if _, err := small.Add(ctx, random(t, 10<<10+1)); !errors.Is(err, ipfs.ErrTooLarge) {
		t.Fatalf("Add of an oversized object: %v, want ErrTooLarge", err)
	}
	if after := pins(t, api); len(after) != len(before) {
		t.Fatalf("a refused Add pinned something: %d pins, were %d", len(after), len(before))
	}
	exact := random(t, 10<<10)
	cid, err := small.Add(ctx, exact)
	if err != nil {
		t.Fatalf("Add of exactly the maximum: %v", err)
	}
	if got, err := small.Cat(ctx, cid); err != nil || !bytes.Equal(got, exact) {
		t.Fatalf("Cat of exactly the maximum: %d bytes, %v", len(got), err)
	}
	big, err := newClient(t, api).Add(ctx, random(t, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := small.Cat(ctx, big); !errors.Is(err, ipfs.ErrTooLarge) || got != nil {
		t.Fatalf("Cat of a 1 MiB object with a 10 KiB bound: %d bytes, %v; want ErrTooLarge", len(got), err)
	}
}

func TestUnknownCIDEndsAtTheDeadline(t *testing.T) {
	s := kubotest.Start(t, 2, kubotest.Options{})
	c := newClient(t, s.Nodes[0].APIAddr())
	unknown := txbuild.RawCID(random(t, 32)) // in no repository of the swarm
	for name, f := range map[string]func(context.Context) error{
		"cat": func(ctx context.Context) error { _, err := c.Cat(ctx, unknown); return err },
		"pin": func(ctx context.Context) error { return c.Pin(ctx, unknown) },
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			start := time.Now()
			err := f(ctx)
			if !errors.Is(err, ipfs.ErrNotFound) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("%s of an unknown CID: %v; want ErrNotFound and DeadlineExceeded", name, err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("%s returned %v after a 1 s deadline", name, d)
			}
		})
	}
	// The client's own timeout bounds a call whose context has none.
	short := newClient(t, s.Nodes[0].APIAddr(), ipfs.WithTimeout(500*time.Millisecond))
	if _, err := short.Cat(context.Background(), unknown); !errors.Is(err, ipfs.ErrNotFound) {
		t.Fatalf("Cat with the client's timeout: %v", err)
	}
	if isPinned(t, c, unknown) {
		t.Fatal("a failed Pin left a pin")
	}
}

// Addresses are checked before kubo sees them: hostile paths never reach
// it (a client of a closed port answers ErrInvalidCID, not ErrUnavailable).
func TestHostileAddressesAreRefusedLocally(t *testing.T) {
	c := newClient(t, closedAddr(t))
	ctx := context.Background()
	valid := txbuild.RawCID([]byte("x"))
	for _, bad := range []string{"", "notacid", "/ipns/example.org", "/ipfs/" + valid, valid + "/etc/passwd", valid + "?arg=x", "../" + valid, strings.Repeat("b", 300), "Qm" + strings.Repeat("1", 44)} {
		ops := map[string]error{}
		_, ops["cat"] = c.Cat(ctx, bad)
		ops["pin"] = c.Pin(ctx, bad)
		ops["unpin"] = c.Unpin(ctx, bad)
		_, ops["pinned"] = c.Pinned(ctx, bad)
		for op, err := range ops {
			if !errors.Is(err, ipfs.ErrInvalidCID) {
				t.Errorf("%s(%q) = %v, want ErrInvalidCID", op, bad, err)
			}
		}
	}
}

func TestKuboDownIsUnavailableAndFast(t *testing.T) {
	s := kubotest.Start(t, 1, kubotest.Options{})
	stopped := newClient(t, s.Nodes[0].APIAddr())
	if err := s.Nodes[0].Stop(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*ipfs.Client{"stopped daemon": stopped, "nothing listening": newClient(t, closedAddr(t))} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			cid := txbuild.RawCID([]byte("y"))
			start := time.Now()
			ops := map[string]error{"ready": c.Ready(ctx), "pin": c.Pin(ctx, cid), "unpin": c.Unpin(ctx, cid)}
			_, ops["add"] = c.Add(ctx, []byte("y"))
			_, ops["cat"] = c.Cat(ctx, cid)
			_, ops["pinned"] = c.Pinned(ctx, cid)
			_, _, _, ops["addtx"] = c.AddTx(ctx, []byte("y"))
			for op, err := range ops {
				if !errors.Is(err, ipfs.ErrUnavailable) {
					t.Errorf("%s with kubo down: %v, want ErrUnavailable", op, err)
				}
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("seven calls to a down kubo took %v", d)
			}
		})
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	for name, f := range map[string]func() (*ipfs.Client, error){
		"no address":       func() (*ipfs.Client, error) { return ipfs.New("") },
		"no port":          func() (*ipfs.Client, error) { return ipfs.New("127.0.0.1") },
		"zero timeout":     func() (*ipfs.Client, error) { return ipfs.New("127.0.0.1:5001", ipfs.WithTimeout(0)) },
		"negative maximum": func() (*ipfs.Client, error) { return ipfs.New("127.0.0.1:5001", ipfs.WithMaxObjectSize(-1)) },
		"zero conns":       func() (*ipfs.Client, error) { return ipfs.New("127.0.0.1:5001", ipfs.WithMaxConns(0)) },
		"nil HTTP client":  func() (*ipfs.Client, error) { return ipfs.New("127.0.0.1:5001", ipfs.WithHTTPClient(nil)) },
	} {
		if _, err := f(); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	for _, addr := range []string{"127.0.0.1:5001", "http://127.0.0.1:5001/", "/ip4/127.0.0.1/tcp/5001"} {
		if _, err := ipfs.New(addr); err != nil {
			t.Errorf("New(%q): %v", addr, err)
		}
	}
}

// RawCID predicts what kubo gives, up to exactly one chunk; past it the
// object is chunked and RawCID declines.
func TestRawCIDMatchesKubo(t *testing.T) {
	s := kubotest.Start(t, 1, kubotest.Options{})
	c := newClient(t, s.Nodes[0].APIAddr())
	for _, n := range []int{0, 1, 4 << 10, ipfs.ChunkSize} {
		data := random(t, n)
		local, ok := ipfs.RawCID(data)
		if !ok || local != txbuild.RawCID(data) {
			t.Fatalf("RawCID(%d bytes) = %s, %v; txbuild says %s", n, local, ok, txbuild.RawCID(data))
		}
		got, err := c.AddNoPin(context.Background(), data)
		if err != nil || got != local {
			t.Fatalf("kubo gave %s, %v for %d bytes; RawCID %s", got, err, n, local)
		}
	}
	if cid, ok := ipfs.RawCID(make([]byte, ipfs.ChunkSize+1)); ok || cid != "" {
		t.Fatalf("RawCID of one byte more than a chunk = %q, %v", cid, ok)
	}
}
