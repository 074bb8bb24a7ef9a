package gateway

import (
	"context"
	"crypto/x509"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/medshare/medshare/gateway/ledger"
	nclient "github.com/medshare/medshare/network/client"
	"github.com/medshare/medshare/network/identity"
)

// NodeLedger is one node reached as the gateway's identity: its chaincode
// calls and its blocks.
type NodeLedger interface {
	ledger.Ledger
	ledger.Blocks
}

// Nodes reaches the consortium's nodes — every organisation's, named in the
// side-chain registry on main — as the gateway's identity, so that
// verification compares what each node holds. Implementations are safe for
// concurrent use and keep connections open until Close.
type Nodes interface {
	Node(ctx context.Context, address string) (NodeLedger, error)
	Close()
}

// DialNodes returns Nodes that dial each address over mutual TLS with the
// identity in dir, trusting roots.
func DialNodes(dir identity.Dir, signer *identity.Signer, roots []*x509.Certificate, timeout time.Duration) Nodes {
	return &dialNodes{dir: dir, signer: signer, roots: roots, timeout: timeout, conns: map[string]*dialed{}}
}

type dialNodes struct {
	dir     identity.Dir
	signer  *identity.Signer
	roots   []*x509.Certificate
	timeout time.Duration

	mu    sync.Mutex
	conns map[string]*dialed
}

type dialed struct {
	conn *grpc.ClientConn
	net  *ledger.Network
}

func (d *dialNodes) Node(_ context.Context, address string) (NodeLedger, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.conns[address]; ok {
		return c.net, nil
	}
	conn, err := nclient.DialIdentity(address, d.dir, d.roots...)
	if err != nil {
		return nil, fmt.Errorf("%w: node %s: %w", ledger.ErrUnavailable, address, err)
	}
	id := nclient.Signer{S: d.signer}
	gw, err := nclient.Connect(id, nclient.WithSign(id.Sign), nclient.WithClientConnection(conn),
		nclient.WithEvaluateTimeout(d.timeout), nclient.WithEndorseTimeout(d.timeout), nclient.WithCommitStatusTimeout(d.timeout))
	if err != nil {
		conn.Close()
		return nil, err
	}
	c := &dialed{conn: conn, net: ledger.NewNetwork(gw)}
	d.conns[address] = c
	return c.net, nil
}

func (d *dialNodes) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for a, c := range d.conns {
		c.conn.Close()
		delete(d.conns, a)
	}
}
