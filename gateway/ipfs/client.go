package ipfs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	gocid "github.com/ipfs/go-cid"
	shell "github.com/ipfs/go-ipfs-api"
)

// Defaults of New.
const (
	// DefaultTimeout bounds every call whose context has no earlier
	// deadline.
	DefaultTimeout = time.Minute
	// DefaultMaxObjectSize bounds what Add accepts and Cat returns.
	DefaultMaxObjectSize = 64 << 20
	// DefaultMaxConns is how many connections to kubo are kept open for
	// reuse (the gateway's upload concurrency).
	DefaultMaxConns = 256
)

// Op names an operation for observers.
type Op string

// Operations reported to an Observer.
const (
	OpAdd   Op = "add"
	OpCat   Op = "cat"
	OpPin   Op = "pin"
	OpUnpin Op = "unpin"
)

// Observer is told the duration and outcome (nil or the returned error) of
// every Add (also as part of AddTx), Cat, Pin and Unpin, for example to feed
// a Prometheus histogram by operation and outcome. It must be safe for
// concurrent use and return quickly.
type Observer func(op Op, d time.Duration, err error)

// Client is a client of one kubo daemon's RPC API. It is safe for concurrent
// use.
type Client struct {
	sh      *shell.Shell
	addr    string
	timeout time.Duration
	maxSize int64
	conns   int
	hc      *http.Client
	observe Observer

	mu  sync.Mutex
	txs map[string]*txEntry // objects of AddTx transactions not yet committed or undone
}

// Option configures a Client.
type Option func(*Client) error

// WithTimeout bounds every call whose context has no earlier deadline
// (default DefaultTimeout).
func WithTimeout(d time.Duration) Option {
	return func(c *Client) error {
		if d <= 0 {
			return errors.New("ipfs: timeout must be positive")
		}
		c.timeout = d
		return nil
	}
}

// WithMaxObjectSize bounds the objects Add accepts and Cat returns (default
// DefaultMaxObjectSize).
func WithMaxObjectSize(n int64) Option {
	return func(c *Client) error {
		if n <= 0 {
			return errors.New("ipfs: max object size must be positive")
		}
		c.maxSize = n
		return nil
	}
}

// WithMaxConns sets how many idle connections to kubo are kept for reuse
// (default DefaultMaxConns). Without reuse every call would open a TCP
// connection.
func WithMaxConns(n int) Option {
	return func(c *Client) error {
		if n <= 0 {
			return errors.New("ipfs: max conns must be positive")
		}
		c.conns = n
		return nil
	}
}

// WithHTTPClient replaces the HTTP client (its Timeout should be zero: the
// client bounds calls with contexts).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("ipfs: nil HTTP client")
		}
		c.hc = hc
		return nil
	}
}

// WithObserver reports every operation's latency and outcome to o.
func WithObserver(o Observer) Option {
	return func(c *Client) error { c.observe = o; return nil }
}

// New returns a client of the kubo RPC API at apiAddr: "host:port" (as
// kubo.Node.APIAddr gives it), "http://host:port" or a multiaddr such as
// "/ip4/127.0.0.1/tcp/5001". It does not contact kubo; Ready does.
func New(apiAddr string, opts ...Option) (*Client, error) {
	c := &Client{timeout: DefaultTimeout, maxSize: DefaultMaxObjectSize, conns: DefaultMaxConns, txs: map[string]*txEntry{}}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(apiAddr, "http://"), "/")
	if addr == "" {
		return nil, errors.New("ipfs: no API address")
	}
	if !strings.HasPrefix(addr, "/") {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("ipfs: API address %q: %w", apiAddr, err)
		}
	}
	if c.hc == nil {
		c.hc = &http.Client{Transport: &http.Transport{
			// kubo is the organisation's own daemon: never through a proxy.
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        c.conns,
			MaxIdleConnsPerHost: c.conns,
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	c.addr = addr
	c.sh = shell.NewShellWithClient(addr, c.hc)
	return c, nil
}

// MaxObjectSize is the largest object Add accepts and Cat returns.
func (c *Client) MaxObjectSize() int64 { return c.maxSize }

// call bounds ctx with the client's timeout and reports the outcome.
func (c *Client) call(ctx context.Context, op Op, f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	start := time.Now()
	err := f(ctx)
	if c.observe != nil {
		c.observe(op, time.Since(start), err)
	}
	return err
}

// checkCID refuses anything but a bare CID.
func checkCID(cid string) error {
	if len(cid) > 256 {
		return fmt.Errorf("%w: %d characters", ErrInvalidCID, len(cid))
	}
	if _, err := gocid.Decode(cid); err != nil {
		return fmt.Errorf("%w: %q", ErrInvalidCID, cid)
	}
	return nil
}

// Add adds data as one object (CIDv1, raw leaves), pins it, and returns its
// CID. When it fails, nothing new is pinned — unless the deadline ended the
// call while kubo was still adding, and kubo finished after all; AddTx
// cleans that case up.
func (c *Client) Add(ctx context.Context, data []byte) (string, error) {
	return c.add(ctx, data, true)
}

// AddNoPin adds data like Add without pinning it: the blocks stay in the
// repository until the next garbage collection unless pinned later.
func (c *Client) AddNoPin(ctx context.Context, data []byte) (string, error) {
	return c.add(ctx, data, false)
}

func (c *Client) add(ctx context.Context, data []byte, pin bool) (string, error) {
	var cid string
	err := c.call(ctx, OpAdd, func(ctx context.Context) error {
		if int64(len(data)) > c.maxSize {
			return fmt.Errorf("%w: %d bytes, the maximum is %d", ErrTooLarge, len(data), c.maxSize)
		}
		var body bytes.Buffer
		w := multipart.NewWriter(&body)
		part, err := w.CreateFormFile("file", "object")
		if err != nil {
			return fmt.Errorf("ipfs: add: %w", err)
		}
		part.Write(data)
		w.Close()
		var out struct{ Hash string }
		err = c.sh.Request("add").
			Option("cid-version", 1).Option("raw-leaves", true).Option("hash", "sha2-256").
			Option("chunker", "size-"+strconv.Itoa(ChunkSize)).
			Option("pin", pin).Option("quieter", true).Option("progress", false).
			Header("Content-Type", w.FormDataContentType()).
			Body(&body).Exec(ctx, &out)
		if err != nil {
			return classify(ctx, "add", "", err, false)
		}
		if checkCID(out.Hash) != nil {
			return fmt.Errorf("ipfs: add: kubo answered %q, not a CID", out.Hash)
		}
		cid = out.Hash
		return nil
	})
	return cid, err
}

// Cat returns the object at cid: from the local repository, or fetched from
// the swarm's peers until ctx's deadline (then ErrNotFound). An object
// larger than the maximum object size is refused with ErrTooLarge after
// reading one byte more than the maximum. Cat does not verify the content
// against a checkCode: that is the caller's business.
func (c *Client) Cat(ctx context.Context, cid string) ([]byte, error) {
	var data []byte
	err := c.call(ctx, OpCat, func(ctx context.Context) error {
		if err := checkCID(cid); err != nil {
			return err
		}
		resp, err := c.sh.Request("cat", cid).Option("length", c.maxSize+1).Send(ctx)
		if err != nil {
			return classify(ctx, "cat", cid, err, true)
		}
		defer resp.Close()
		if resp.Error != nil {
			return classify(ctx, "cat", cid, resp.Error, true)
		}
		data, err = io.ReadAll(io.LimitReader(resp.Output, c.maxSize+1))
		if err != nil {
			data = nil
			return classify(ctx, "cat", cid, err, true)
		}
		if int64(len(data)) > c.maxSize {
			data = nil
			return fmt.Errorf("%w: %s is larger than %d bytes", ErrTooLarge, cid, c.maxSize)
		}
		return nil
	})
	return data, err
}

// Pin pins the object at cid recursively, fetching what is missing from the
// swarm until ctx's deadline (then ErrNotFound). Pinning a pinned object
// succeeds.
func (c *Client) Pin(ctx context.Context, cid string) error {
	return c.call(ctx, OpPin, func(ctx context.Context) error {
		if err := checkCID(cid); err != nil {
			return err
		}
		return classify(ctx, "pin", cid, c.sh.Request("pin/add", cid).Option("recursive", true).Exec(ctx, nil), true)
	})
}

// Unpin removes the pin of the object at cid; its blocks go at the next
// garbage collection. Unpinning an object that is not pinned succeeds.
func (c *Client) Unpin(ctx context.Context, cid string) error {
	return c.call(ctx, OpUnpin, func(ctx context.Context) error {
		if err := checkCID(cid); err != nil {
			return err
		}
		err := c.sh.Request("pin/rm", cid).Option("recursive", true).Exec(ctx, nil)
		if isNotPinned(err) {
			return nil
		}
		return classify(ctx, "unpin", cid, err, false)
	})
}

// Pinned reports whether the object at cid is pinned recursively (as Add
// and Pin pin).
func (c *Client) Pinned(ctx context.Context, cid string) (bool, error) {
	if err := checkCID(cid); err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var out struct{ Keys map[string]json.RawMessage }
	err := c.sh.Request("pin/ls", cid).Option("type", "recursive").Exec(ctx, &out)
	if isNotPinned(err) {
		return false, nil
	}
	if err != nil {
		return false, classify(ctx, "pin ls", cid, err, false)
	}
	return len(out.Keys) > 0, nil
}

// Ready checks that kubo answers (for /readyz): nil, or an error wrapping
// ErrUnavailable.
func (c *Client) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var out struct{ Version string }
	if err := c.sh.Request("version").Exec(ctx, &out); err != nil {
		err = classify(ctx, "version", "", err, false)
		if !errors.Is(err, ErrUnavailable) {
			err = fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return err
	}
	return nil
}

// Peers returns how many peers of the swarm the daemon is connected to (for
// health reports: 0 means this organisation's kubo replicates nothing).
func (c *Client) Peers(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var out struct{ Peers []json.RawMessage }
	if err := c.sh.Request("swarm/peers").Exec(ctx, &out); err != nil {
		return 0, classify(ctx, "swarm peers", "", err, false)
	}
	return len(out.Peers), nil
}

// String names the client for logs.
func (c *Client) String() string { return "kubo at " + c.addr }
