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
	// Node connects to the node of organisation org at address.
	Node(ctx context.Context, org, address string) (NodeLedger, error)
	Close()
}

// DialNodes returns Nodes that dial each address over mutual TLS with the
// identity in dir, trusting for a node only its organisation's CA (cas, by
// MSP id), so that no other member can answer for it.
func DialNodes(dir identity.Dir, signer *identity.Signer, cas map[string]*x509.Certificate, timeout time.Duration) Nodes {
	return &dialNodes{dir: dir, signer: signer, cas: cas, timeout: timeout, conns: map[string]*dialed{}}
}

type dialNodes struct {
	dir     identity.Dir
	signer  *identity.Signer
	cas     map[string]*x509.Certificate
	timeout time.Duration

	mu    sync.Mutex
	conns map[string]*dialed
}

type dialed struct {
	conn *grpc.ClientConn
	net  *ledger.Network
}

func (d *dialNodes) Node(_ context.Context, org, address string) (NodeLedger, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.conns[org+"@"+address]; ok {
		return c.net, nil
	}
	ca, ok := d.cas[org]
	if !ok {
		return nil, fmt.Errorf("%w: node %s: organisation %s has no CA in the configuration", ledger.ErrUnavailable, address, org)
	}
	conn, err := nclient.DialIdentity(address, d.dir, ca)
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
	d.conns[org+"@"+address] = c
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
