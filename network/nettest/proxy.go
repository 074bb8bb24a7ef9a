package nettest

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// Proxy relays TCP connections from a loopback address to a node, and can
// stop relaying the node's answers while still delivering the client's
// requests: the node then does what it was asked, but the client never hears
// back, as when a node or the network fails right after a request arrived.
type Proxy struct {
	ln     net.Listener
	target string
	mute   atomic.Bool

	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

// NewProxy listens on a free loopback port and relays to target.
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address clients dial instead of the node's.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// MuteReplies makes the proxy drop, from now on, every byte the node sends
// back on every connection, while the client's bytes still reach the node.
func (p *Proxy) MuteReplies(on bool) { p.mute.Store(on) }

// Close stops the proxy and closes every relayed connection.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); io.Copy(s, c); s.Close() }()
		go func() { defer p.wg.Done(); p.replies(c, s); c.Close() }()
	}
}

// replies copies the node's bytes to the client unless muted.
func (p *Proxy) replies(client, server net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 && !p.mute.Load() {
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
