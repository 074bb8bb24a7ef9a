package client_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/medshare/medshare/network/client"
	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/pb"
)

// fakeGateway answers Submit from a script, one entry per call (the last
// one repeats), and records what Evaluate was asked.
type fakeGateway struct {
	pb.UnimplementedGatewayServer
	mu        sync.Mutex
	submits   []error
	calls     int
	minHeight uint64
	evalAt    uint64
	commitAt  uint64
}

func (f *fakeGateway) Submit(ctx context.Context, req *pb.SubmitRequest) (*pb.SubmitResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	err := f.submits[min(f.calls, len(f.submits)-1)]
	f.calls++
	if err != nil {
		return nil, err
	}
	return &pb.SubmitResponse{Payload: []byte("simulated")}, nil
}

func (f *fakeGateway) Evaluate(ctx context.Context, req *pb.EvaluateRequest) (*pb.EvaluateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.minHeight = req.GetMinHeight()
	return &pb.EvaluateResponse{Payload: []byte("v"), Height: f.evalAt}, nil
}

func (f *fakeGateway) CommitStatus(ctx context.Context, req *pb.CommitStatusRequest) (*pb.CommitStatusResponse, error) {
	return &pb.CommitStatusResponse{Code: pb.ValidationCode_VALID, BlockNumber: f.commitAt}, nil
}

// stageErr builds a node error with its detail, as the node sends them.
func stageErr(code codes.Code, stage string, v pb.ValidationCode, unknown bool) error {
	st, _ := status.New(code, "refused").WithDetails(&pb.ErrorDetail{Stage: stage, Code: v, Message: "refused", OutcomeUnknown: unknown})
	return st.Err()
}

func connect(t *testing.T, f *fakeGateway, opts ...client.ConnectOption) *client.Gateway {
	t.Helper()
	ln := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	pb.RegisterGatewayServer(srv, f)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///fake", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ca, err := identity.NewCA(rand.Reader, "Org1MSP", "org1", "ca.org1", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ca.IssueSigner(rand.Reader, identity.Request{CommonName: "alice", Role: identity.RoleClient, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	id := client.Signer{S: s}
	gw, err := client.Connect(id, append([]client.ConnectOption{client.WithSign(id.Sign), client.WithClientConnection(conn), client.WithEndorseTimeout(time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return gw
}

// TestSubmitErrorSaysWhetherOrdered (issue 10, hole 11): the client reports
// "not ordered" (SubmitError, EndorseError) only when every attempt was
// refused by a node that knows it did not order the transaction; whenever
// the envelope may have gone further, it reports the outcome as unknown.
func TestSubmitErrorSaysWhetherOrdered(t *testing.T) {
	noLeader := stageErr(codes.Unavailable, "submit", 0, false)
	unreachable := stageErr(codes.Unavailable, "submit", 0, true)
	refusedByChaincode := stageErr(codes.Aborted, "endorse", pb.ValidationCode_CHAINCODE_ERROR, false)
	duplicate := stageErr(codes.AlreadyExists, "endorse", pb.ValidationCode_DUPLICATE_TXID, false)
	lostReply := status.Error(codes.DeadlineExceeded, "context deadline exceeded")
	transport := status.Error(codes.Unavailable, "connection reset")
	tests := []struct {
		name    string
		script  []error
		want    string // "ok", "endorse", "submit", "unknown"
		retries bool   // more than one attempt expected
	}{
		{"accepted", []error{nil}, "ok", false},
		{"refused at endorsement", []error{refusedByChaincode}, "endorse", false},
		{"no leader until the timeout", []error{noLeader}, "submit", true},
		{"no leader, then accepted", []error{noLeader, nil}, "ok", true},
		{"leader unreachable until the timeout", []error{unreachable}, "unknown", true},
		{"reply lost", []error{lostReply}, "unknown", false},
		{"transport failure until the timeout", []error{transport}, "unknown", true},
		{"transport failure, then no leader", []error{transport, noLeader}, "unknown", true},
		{"transport failure, then refused", []error{transport, refusedByChaincode}, "unknown", true},
		{"transport failure, then a duplicate: committed", []error{transport, duplicate}, "ok", true},
		{"already committed", []error{duplicate}, "ok", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeGateway{submits: tt.script}
			gw := connect(t, f)
			tx, err := gw.GetNetwork("main").GetContract("kv").NewTransaction("Put", client.WithArguments("k", "v"))
			if err != nil {
				t.Fatal(err)
			}
			_, commit, err := tx.Submit()
			var ee *client.EndorseError
			var se *client.SubmitError
			var ue *client.OutcomeUnknownError
			got := "?"
			switch {
			case err == nil && commit != nil && commit.TransactionID() == tx.TransactionID():
				got = "ok"
			case errors.As(err, &ee) && !errors.Is(err, client.ErrOutcomeUnknown):
				got = "endorse"
			case errors.As(err, &se) && !errors.Is(err, client.ErrOutcomeUnknown):
				got = "submit"
			case errors.As(err, &ue) && errors.Is(err, client.ErrOutcomeUnknown) && ue.Transaction == tx && ue.TransactionID == tx.TransactionID():
				got = "unknown"
			}
			if got != tt.want {
				t.Fatalf("Submit: %v (%T), classified %s, want %s", err, err, got, tt.want)
			}
			if tt.retries != (f.calls > 1) {
				t.Fatalf("%d attempts", f.calls)
			}
		})
	}
}

// TestResubmitAfterUnknownIsNotConclusive: once an attempt may have been
// ordered, a refusal of a later Submit of the same transaction does not
// make it "not committed".
func TestResubmitAfterUnknownIsNotConclusive(t *testing.T) {
	f := &fakeGateway{submits: []error{status.Error(codes.DeadlineExceeded, "lost")}}
	gw := connect(t, f)
	tx, err := gw.GetNetwork("main").GetContract("kv").NewTransaction("Put", client.WithArguments("k", "v"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tx.Submit(); !errors.Is(err, client.ErrOutcomeUnknown) {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.submits, f.calls = []error{stageErr(codes.InvalidArgument, "endorse", pb.ValidationCode_BAD_TIMESTAMP, false)}, 0
	f.mu.Unlock()
	if _, _, err := tx.Submit(); !errors.Is(err, client.ErrOutcomeUnknown) {
		t.Fatalf("refused resubmission after an unknown outcome: %v", err)
	}
}

// TestSessionReadsItsWrites: a Gateway's reads ask for at least the height
// its commits and reads reached, and Gateways sharing a Session share it.
func TestSessionReadsItsWrites(t *testing.T) {
	f := &fakeGateway{submits: []error{nil}, commitAt: 41, evalAt: 40}
	sess := client.NewSession()
	gw := connect(t, f, client.WithSession(sess))
	kv := gw.GetNetwork("main").GetContract("kv")
	if _, err := kv.SubmitTransaction("Put", "k", "v"); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.EvaluateTransaction("Get", "k"); err != nil {
		t.Fatal(err)
	}
	if f.minHeight != 42 {
		t.Fatalf("read after a commit in block 41 asked for height %d, want 42", f.minHeight)
	}
	other := connect(t, &fakeGateway{evalAt: 50}, client.WithSession(sess))
	if _, err := other.GetNetwork("main").GetContract("kv").Evaluate("Get", client.WithArguments("k"), client.WithMinHeight(7)); err != nil {
		t.Fatal(err)
	}
	if sess.Height("main") != 50 || sess.Height("side-low") != 0 {
		t.Fatalf("session heights %d %d", sess.Height("main"), sess.Height("side-low"))
	}
	if _, err := kv.EvaluateTransaction("Get", "k"); err != nil || f.minHeight != 50 {
		t.Fatalf("monotonic read asked for height %d, %v; want 50", f.minHeight, err)
	}
}
