package client

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/medshare/medshare/network/identity"
)

// maxMessageSize matches the node's gRPC message limit.
const maxMessageSize = 64 << 20

// Dial opens a mutual-TLS gRPC connection to a node: cert is the client's
// TLS certificate, roots the CA certificates the node's TLS certificate must
// chain to. The server name defaults to the address's host.
func Dial(address string, cert tls.Certificate, roots []*x509.Certificate) (*grpc.ClientConn, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("client: address %q: %w", address, err)
	}
	pool := x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ServerName:   host,
		MinVersion:   tls.VersionTLS13,
	}
	return grpc.NewClient(address,
		grpc.WithTransportCredentials(credentials.NewTLS(cfg)),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessageSize), grpc.MaxCallSendMsgSize(maxMessageSize)),
	)
}

// Signer adapts an identity.Signer to the Identity and Sign the Gateway
// needs.
type Signer struct{ S *identity.Signer }

// MspID implements Identity.
func (s Signer) MspID() string { return s.S.MSPID() }

// Credentials implements Identity.
func (s Signer) Credentials() []byte { return s.S.Bytes() }

// Sign is the identity's digest signer, for WithSign.
func (s Signer) Sign(digest []byte) ([]byte, error) { return s.S.SignDigest(digest) }

// DialIdentity dials a node as the identity stored in dir (its TLS
// certificate, trusting the organisation CAs in roots plus its own).
func DialIdentity(address string, dir identity.Dir, roots ...*x509.Certificate) (*grpc.ClientConn, error) {
	cert, err := tls.LoadX509KeyPair(dir.TLSCertFile(), dir.TLSKeyFile())
	if err != nil {
		return nil, fmt.Errorf("client: TLS identity: %w", err)
	}
	ca, err := identity.ReadCertFile(dir.CAFile())
	if err != nil {
		return nil, err
	}
	return Dial(address, cert, append(roots, ca))
}
