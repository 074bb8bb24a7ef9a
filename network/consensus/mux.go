package consensus

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Authorizer decides whether a TLS peer may carry a channel's Raft traffic.
// For an incoming connection addr is empty and the peer must be any node of
// the channel; for an outgoing one, the peer must be the node configured at
// addr.
type Authorizer func(channel, addr string, peerCertDER []byte) error

// ErrMuxClosed is returned by layers of a closed mux.
var ErrMuxClosed = errors.New("consensus: transport closed")

const (
	muxMagic         = "MSR1"
	handshakeTimeout = 5 * time.Second
)

// Mux serves the Raft traffic of all of a node's channels on one
// mutual-TLS listener. Each connection starts with a header naming its
// channel; the mux checks the peer against that channel's membership and
// hands the connection to the channel's Layer.
type Mux struct {
	ln        net.Listener
	cert      tls.Certificate
	authorize Authorizer
	log       *slog.Logger

	mu     sync.Mutex
	layers map[string]*Layer
	closed bool
	wg     sync.WaitGroup
}

// Listen starts a mux on addr with the node's TLS certificate.
func Listen(addr string, cert tls.Certificate, authorize Authorizer, log *slog.Logger) (*Mux, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("consensus: listen %s: %w", addr, err)
	}
	m := &Mux{ln: ln, cert: cert, authorize: authorize, log: log, layers: make(map[string]*Layer)}
	m.wg.Add(1)
	go m.serve()
	return m, nil
}

// Addr is the address the mux listens on.
func (m *Mux) Addr() net.Addr { return m.ln.Addr() }

func (m *Mux) serve() {
	defer m.wg.Done()
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			m.mu.Lock()
			closed := m.closed
			m.mu.Unlock()
			if closed {
				return
			}
			m.log.Warn("cluster accept failed", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		go m.handshake(conn)
	}
}

func (m *Mux) serverTLS() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{m.cert},
		// The peer's certificate is checked against the channel named in the
		// header, after the handshake.
		ClientAuth: tls.RequireAnyClientCert,
		MinVersion: tls.VersionTLS13,
	}
}

func (m *Mux) handshake(raw net.Conn) {
	conn := tls.Server(raw, m.serverTLS())
	conn.SetDeadline(time.Now().Add(handshakeTimeout))
	channel, err := readHeader(conn)
	if err != nil {
		m.log.Warn("cluster connection refused", "remote", raw.RemoteAddr().String(), "err", err)
		conn.Close()
		return
	}
	certs := conn.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		conn.Close()
		return
	}
	if err := m.authorize(channel, "", certs[0].Raw); err != nil {
		m.log.Warn("cluster peer refused", "channel", channel, "remote", raw.RemoteAddr().String(), "err", err)
		conn.Close()
		return
	}
	conn.SetDeadline(time.Time{})
	m.mu.Lock()
	l := m.layers[channel]
	m.mu.Unlock()
	if l == nil {
		conn.Close()
		return
	}
	select {
	case l.accept <- conn:
	case <-l.done:
		conn.Close()
	case <-time.After(handshakeTimeout):
		conn.Close()
	}
}

func readHeader(r io.Reader) (string, error) {
	hdr := make([]byte, len(muxMagic)+1)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return "", fmt.Errorf("read header: %w", err)
	}
	if string(hdr[:len(muxMagic)]) != muxMagic {
		return "", errors.New("bad header")
	}
	name := make([]byte, hdr[len(muxMagic)])
	if _, err := io.ReadFull(r, name); err != nil {
		return "", fmt.Errorf("read channel name: %w", err)
	}
	return string(name), nil
}

// Layer registers a channel and returns its Raft stream layer.
func (m *Mux) Layer(channel string) (*Layer, error) {
	if len(channel) == 0 || len(channel) > 255 {
		return nil, fmt.Errorf("consensus: bad channel name %q", channel)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrMuxClosed
	}
	if _, ok := m.layers[channel]; ok {
		return nil, fmt.Errorf("consensus: channel %s already has a transport", channel)
	}
	l := &Layer{mux: m, channel: channel, accept: make(chan net.Conn, 16), done: make(chan struct{})}
	m.layers[channel] = l
	return l, nil
}

// Close stops the listener and every layer.
func (m *Mux) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	layers := m.layers
	m.layers = map[string]*Layer{}
	m.mu.Unlock()
	err := m.ln.Close()
	for _, l := range layers {
		l.closeOnce.Do(func() { close(l.done) })
	}
	m.wg.Wait()
	return err
}

// Layer is one channel's raft.StreamLayer on a Mux.
type Layer struct {
	mux       *Mux
	channel   string
	accept    chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

var _ raft.StreamLayer = (*Layer)(nil)

// Accept implements net.Listener.
func (l *Layer) Accept() (net.Conn, error) {
	select {
	case c := <-l.accept:
		return c, nil
	case <-l.done:
		return nil, ErrMuxClosed
	}
}

// Close implements net.Listener: it unregisters the channel.
func (l *Layer) Close() error {
	l.closeOnce.Do(func() {
		close(l.done)
		l.mux.mu.Lock()
		if l.mux.layers[l.channel] == l {
			delete(l.mux.layers, l.channel)
		}
		l.mux.mu.Unlock()
	})
	return nil
}

// Addr implements net.Listener.
func (l *Layer) Addr() net.Addr { return l.mux.ln.Addr() }

// Dial implements raft.StreamLayer: a mutual-TLS connection to the node at
// address, which must be that channel's node for the address.
func (l *Layer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	addr := string(address)
	cfg := &tls.Config{
		Certificates: []tls.Certificate{l.mux.cert},
		// The server is authenticated below against the channel's
		// membership and the node configured at this address; the MSP, not
		// the system roots, is the trust anchor.
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS13,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no server certificate")
			}
			return l.mux.authorize(l.channel, addr, cs.PeerCertificates[0].Raw)
		},
	}
	d := &net.Dialer{Timeout: timeout}
	conn, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	hdr := append([]byte(muxMagic), byte(len(l.channel)))
	hdr = append(hdr, l.channel...)
	conn.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := conn.Write(hdr); err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetWriteDeadline(time.Time{})
	return conn, nil
}
