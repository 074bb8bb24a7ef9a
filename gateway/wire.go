package gateway

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/gateway/aa"
	"github.com/medshare/medshare/gateway/client"
	"github.com/medshare/medshare/gateway/grade"
	"github.com/medshare/medshare/gateway/ipfs"
	"github.com/medshare/medshare/gateway/ledger"
	"github.com/medshare/medshare/gateway/replicate"
	nclient "github.com/medshare/medshare/network/client"
	"github.com/medshare/medshare/network/identity"
)

// indexEvents is main's index chaincode on the gateway's node, as the
// index cache follows it.
type indexEvents struct {
	gw     *nclient.Gateway
	blocks ledger.Blocks
}

// Height implements indexcache.Source.
func (e indexEvents) Height(ctx context.Context) (uint64, error) {
	info, err := e.blocks.ChainInfo(ctx, txbuild.MainChannel)
	if err != nil {
		return 0, err
	}
	return info.GetHeight(), nil
}

// Events implements indexcache.Source.
func (e indexEvents) Events(ctx context.Context, start uint64) (<-chan *nclient.ChaincodeEvent, error) {
	return e.gw.GetNetwork(txbuild.MainChannel).ChaincodeEvents(ctx, index.Name, nclient.WithStartBlock(start))
}

// IPFSObjects adapts the kubo client (package gateway/ipfs) to Objects.
type IPFSObjects struct{ C *ipfs.Client }

func ipfsErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ipfs.ErrUnavailable):
		return fmt.Errorf("%w: %w", ErrIPFSUnavailable, err)
	case errors.Is(err, ipfs.ErrNotFound), errors.Is(err, ipfs.ErrInvalidCID):
		return fmt.Errorf("%w: %w", ErrObjectNotFound, err)
	case errors.Is(err, ipfs.ErrTooLarge):
		return fmt.Errorf("%w: %w", ErrObjectTooLarge, err)
	}
	return err
}

// Add implements Objects.
func (o IPFSObjects) Add(ctx context.Context, data []byte) (string, error) {
	cid, err := o.C.Add(ctx, data)
	return cid, ipfsErr(err)
}

// AddTx implements Objects.
func (o IPFSObjects) AddTx(ctx context.Context, data []byte) (string, func(), func(context.Context) error, error) {
	cid, commit, undo, err := o.C.AddTx(ctx, data)
	if err != nil {
		return "", nil, nil, ipfsErr(err)
	}
	return cid, commit, func(ctx context.Context) error { return ipfsErr(undo(ctx)) }, nil
}

// Cat implements Objects.
func (o IPFSObjects) Cat(ctx context.Context, cid string) ([]byte, error) {
	b, err := o.C.Cat(ctx, cid)
	return b, ipfsErr(err)
}

// Unpin implements Objects.
func (o IPFSObjects) Unpin(ctx context.Context, cid string) error {
	return ipfsErr(o.C.Unpin(ctx, cid))
}

// Ready implements Objects.
func (o IPFSObjects) Ready(ctx context.Context) error { return ipfsErr(o.C.Ready(ctx)) }

// FHIRGrader adapts the FHIR grader (package gateway/grade) to Grader:
// a refused document becomes a *FieldError naming its path.
type FHIRGrader struct{ G *grade.Grader }

// Grade implements Grader.
func (f FHIRGrader) Grade(doc []byte) (*Graded, error) {
	g, err := f.G.Grade(doc)
	if err != nil {
		var ie *grade.InputError
		if errors.As(err, &ie) {
			field := "document"
			if ie.Path != "" {
				field += "." + ie.Path
			}
			return nil, &FieldError{Field: field, Err: errors.New(ie.Reason)}
		}
		return nil, err
	}
	return &Graded{Kind: g.Kind, Levels: g.Levels, Counts: g.Counts}, nil
}

// supersede is the follower's mapper: it pins every Stored address and,
// when a newer version of a record's level is stored, unpins the address
// of the version it replaces. P-TL grants only a level's current address,
// so an older ciphertext can no longer be accessed through the ledger:
// keeping replicas of it only keeps what a recall wants gone. The last
// address of each (channel, record) is kept in a file beside the
// follower's state.
type supersede struct {
	path string
	mu   sync.Mutex
	last map[string]string
}

func newSupersede(path string) (*supersede, error) {
	s := &supersede{path: path, last: map[string]string{}}
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(raw, &s.last); err != nil {
			return nil, fmt.Errorf("gateway: %s: %w", path, err)
		}
	}
	return s, nil
}

func (s *supersede) Map(channel string, ev *nclient.ChaincodeEvent) ([]replicate.Decision, error) {
	ds, err := replicate.StoredPins(channel, ev)
	if err != nil || len(ds) == 0 {
		return ds, err
	}
	var sum storage.Summary
	if err := json.Unmarshal(ev.Payload, &sum); err != nil {
		return nil, err
	}
	key := channel + "/" + sum.RecordID
	s.mu.Lock()
	prev := s.last[key]
	s.last[key] = sum.Address
	s.mu.Unlock()
	if prev != "" && prev != sum.Address && sum.Version > 1 {
		ds = append(ds, replicate.Decision{Action: replicate.Unpin, CID: prev})
	}
	return ds, nil
}

func (s *supersede) save() error {
	s.mu.Lock()
	raw, err := json.Marshal(s.last)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if err := os.WriteFile(s.path+".tmp", raw, 0o600); err != nil {
		return err
	}
	return os.Rename(s.path+".tmp", s.path)
}

// Gateway is a gateway process's parts, wired from a Config: the HTTP
// server, the follower replicating the ledger's ciphertexts into this
// organisation's kubo, and their connections.
type Gateway struct {
	Server   *Server
	Follower *replicate.Follower
	cert     tls.Certificate
	cfg      Config
	log      *slog.Logger
	conn     *grpc.ClientConn
	sup      *supersede
	nodes    Nodes
}

// Open wires a gateway from a validated configuration: its identity, the
// consortium's CAs, its node, its kubo, the grader, the attribute
// authority (served here, or reached at its URL), and the follower.
func Open(cfg Config, log *slog.Logger) (*Gateway, error) {
	dir := identity.Dir(cfg.Identity)
	signer, err := dir.LoadSigner()
	if err != nil {
		return nil, fmt.Errorf("gateway: identity: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(dir.TLSCertFile(), dir.TLSKeyFile())
	if err != nil {
		return nil, fmt.Errorf("gateway: TLS identity: %w", err)
	}
	var msps []*identity.MSP
	var roots []*x509.Certificate
	cas := map[string]*x509.Certificate{}
	for msp, f := range cfg.CAs {
		ca, err := identity.ReadCertFile(f)
		if err != nil {
			return nil, fmt.Errorf("gateway: cas.%s: %w", msp, err)
		}
		m, err := identity.NewMSP(msp, ca)
		if err != nil {
			return nil, err
		}
		msps = append(msps, m)
		roots = append(roots, ca)
		cas[msp] = ca
	}
	members, err := identity.NewMembership(msps...)
	if err != nil {
		return nil, err
	}
	// The gateway's node is its own organisation's: only its own CA is
	// trusted for it, so another member's administrator cannot answer
	// for it with a certificate for its address (docs/ledger.md's known
	// gap, closed for gateways).
	conn, err := nclient.DialIdentity(cfg.Node, dir)
	if err != nil {
		return nil, fmt.Errorf("gateway: node %s: %w", cfg.Node, err)
	}
	id := nclient.Signer{S: signer}
	ngw, err := nclient.Connect(id, nclient.WithSign(id.Sign), nclient.WithClientConnection(conn),
		nclient.WithEndorseTimeout(cfg.RequestTimeout), nclient.WithCommitStatusTimeout(cfg.RequestTimeout))
	if err != nil {
		conn.Close()
		return nil, err
	}
	g := &Gateway{cert: cert, cfg: cfg, log: log, conn: conn}
	fail := func(err error) (*Gateway, error) { conn.Close(); return nil, err }
	kc, err := ipfs.New(cfg.IPFS, ipfs.WithTimeout(cfg.RequestTimeout))
	if err != nil {
		return fail(err)
	}
	rules := grade.DefaultRules()
	if cfg.GradingRules != "" {
		raw, err := os.ReadFile(cfg.GradingRules)
		if err != nil {
			return fail(fmt.Errorf("gateway: gradingRules: %w", err))
		}
		if rules, err = grade.ParseRules(raw); err != nil {
			return fail(fmt.Errorf("gateway: gradingRules: %w", err))
		}
	}
	grader, err := grade.New(rules)
	if err != nil {
		return fail(err)
	}
	ms, err := NewMedShare(cfg.MedShare, rules)
	if err != nil {
		return fail(err)
	}
	lnet := ledger.NewNetwork(ngw)
	g.nodes = DialNodes(dir, signer, cas, cfg.RequestTimeout)
	d := Deps{Ledger: lnet, Signer: signer, Membership: members, Objects: IPFSObjects{kc},
		Grader: FHIRGrader{grader}, Logger: log, MedShare: ms, Blocks: lnet, Nodes: g.nodes}
	var src AuthoritySource
	if cfg.Authority.Serve {
		key, err := identity.ReadKeyFile(cfg.Authority.SigningKey)
		if err != nil {
			return fail(fmt.Errorf("gateway: authority.signingKey: %w", err))
		}
		state := cfg.Authority.StateFile
		if state == "" {
			state = filepath.Join(cfg.DataDir, "authority.json")
		}
		svc, err := aa.Open(rand.Reader, state, key, cfg.Authority.Scheme, cfg.Authority.CredentialValidity)
		if err != nil {
			return fail(err)
		}
		d.Authority = svc
		src = LocalAuthority{Service: svc}
	} else {
		pool := x509.NewCertPool()
		for _, r := range roots {
			pool.AddCert(r)
		}
		var opts []client.Option
		if m := cfg.Authority.MSP; m != "" {
			opts = append(opts, client.WithOrganisation(m, cas[m]))
		} else {
			log.Warn("authority.msp is not set: any consortium CA's certificate is accepted for the attribute authority's gateway")
		}
		ac, err := client.New(cfg.Authority.URL, &client.Identity{TLS: cert, Signer: signer, Roots: pool}, opts...)
		if err != nil {
			return fail(err)
		}
		src = ac
	}
	if d.Keys, err = NewKeyring(src, signer, cfg.DataDir); err != nil {
		return fail(err)
	}
	if g.sup, err = newSupersede(filepath.Join(cfg.DataDir, "replicas.json")); err != nil {
		return fail(err)
	}
	rc := replicate.DefaultConfig()
	rc.StateFile = filepath.Join(cfg.DataDir, "follower.json")
	rc.Map = g.sup.Map
	rc.Logger = log.With("part", "follower")
	if g.Follower, err = replicate.New(replicate.FromGateway(ngw), kc, rc); err != nil {
		return fail(err)
	}
	d.Replication = g.Follower
	d.IndexEvents = indexEvents{gw: ngw, blocks: lnet}
	if g.Server, err = New(cfg, d); err != nil {
		return fail(err)
	}
	return g, nil
}

// Run serves HTTPS on the configured address and runs the follower until
// ctx ends.
func (g *Gateway) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", g.cfg.Listen)
	if err != nil {
		return fmt.Errorf("gateway: listen: %w", err)
	}
	return g.RunOn(ctx, ln)
}

// RunOn is Run on a listener.
func (g *Gateway) RunOn(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := g.Follower.Run(ctx); err != nil {
			g.log.Error("follower stopped", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				_ = g.sup.save()
				return
			case <-t.C:
				if err := g.sup.save(); err != nil {
					g.log.Warn("cannot save the replica map", "err", err)
				}
			}
		}
	}()
	g.log.Info("gateway serving", "msp", g.cfg.MSPID, "listen", ln.Addr().String(), "authority", g.cfg.Authority.Serve)
	err := g.Server.Serve(ctx, ln, g.cert)
	cancel()
	wg.Wait()
	g.Server.Close()
	g.nodes.Close()
	g.conn.Close()
	return err
}
