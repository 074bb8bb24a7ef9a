package consensus

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/medshare/medshare/network/internal/fixture"
)

func TestLogStore(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenLogStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := []*raft.Log{
		{Index: 1, Term: 1, Type: raft.LogCommand, Data: []byte("a"), AppendedAt: time.Unix(5, 0)},
		{Index: 2, Term: 1, Type: raft.LogCommand, Data: []byte("b"), Extensions: []byte("x")},
		{Index: 3, Term: 2, Type: raft.LogNoop},
	}
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	var got raft.Log
	if err := s.GetLog(2, &got); err != nil || string(got.Data) != "b" || string(got.Extensions) != "x" || got.Term != 1 {
		t.Fatalf("GetLog(2) = %+v, %v", got, err)
	}
	if err := s.GetLog(9, &got); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("GetLog(9) error = %v", err)
	}
	if err := s.DeleteRange(1, 2); err != nil {
		t.Fatal(err)
	}
	if f, _ := s.FirstIndex(); f != 3 {
		t.Fatalf("first index after delete = %d", f)
	}
	if err := s.SetUint64([]byte("term"), 42); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get([]byte("missing")); err != nil || len(v) != 0 {
		t.Fatalf("missing key = %q, %v", v, err)
	}
	s.Close()
	s.Close() // idempotent
	s, err = OpenLogStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if f, _ := s.FirstIndex(); f != 3 {
		t.Fatalf("first index after reopen = %d", f)
	}
	if l, _ := s.LastIndex(); l != 3 {
		t.Fatalf("last index after reopen = %d", l)
	}
	if v, _ := s.GetUint64([]byte("term")); v != 42 {
		t.Fatalf("stable value after reopen = %d", v)
	}
}

// FuzzDecodeLog: any bytes decode to an entry or an error, never a panic,
// and a decoded entry survives a re-encoding unchanged.
func FuzzDecodeLog(f *testing.F) {
	f.Add(encodeLog(&raft.Log{Index: 1, Term: 2, Data: []byte("d"), Extensions: []byte("e"), AppendedAt: time.Unix(1, 0)}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var l, again raft.Log
		if decodeLog(b, &l) != nil {
			return
		}
		if err := decodeLog(encodeLog(&l), &again); err != nil {
			t.Fatalf("re-encoded entry does not decode: %v", err)
		}
		if l.Index != again.Index || l.Term != again.Term || l.Type != again.Type ||
			string(l.Data) != string(again.Data) || string(l.Extensions) != string(again.Extensions) || !l.AppendedAt.Equal(again.AppendedAt) {
			t.Fatalf("round trip changed the entry: %+v vs %+v", l, again)
		}
	})
}

// TestMuxAuthorization checks that the mux hands a connection to the
// channel's layer only if the authorizer admits the peer, and that a dialer
// refuses a server the authorizer rejects.
func TestMuxAuthorization(t *testing.T) {
	f := fixture.New(t, "main", []string{"AMSP", "BMSP"})
	a, b := f.Orgs[0].NodeTLS[0], f.Orgs[1].NodeTLS[0]
	admit := func(name string) Authorizer {
		return func(ch, addr string, der []byte) error {
			if ch != "main" {
				return errors.New("unknown channel")
			}
			if string(der) == string(b.Certificate[0]) || name == "any" {
				return nil
			}
			return errors.New("refused")
		}
	}
	log := slog.New(slog.DiscardHandler)
	server, err := Listen("127.0.0.1:0", a, admit("b-only"), log)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	layer, err := server.Layer("main")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.Layer("main"); err == nil {
		t.Fatal("second layer for the same channel")
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := layer.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	dial := func(cert tls.Certificate, ch string, auth Authorizer) (net.Conn, error) {
		client, err := Listen("127.0.0.1:0", cert, auth, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close() })
		l, err := client.Layer(ch)
		if err != nil {
			t.Fatal(err)
		}
		return l.Dial(raft.ServerAddress(server.Addr().String()), time.Second)
	}
	// A refused peer (its own certificate is A's) never reaches the layer.
	if c, err := dial(a, "main", admit("any")); err == nil {
		io.ReadAll(c) // the server closes it
		c.Close()
	}
	select {
	case <-accepted:
		t.Fatal("a refused peer reached the channel")
	case <-time.After(300 * time.Millisecond):
	}
	// An admitted peer does.
	c, err := dial(b, "main", admit("any"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("ping"))
	select {
	case sc := <-accepted:
		buf := make([]byte, 4)
		if _, err := io.ReadFull(sc, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("read %q, %v", buf, err)
		}
		sc.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("admitted peer not accepted")
	}
	// A dialer whose authorizer rejects the server does not connect.
	if _, err := dial(b, "main", func(string, string, []byte) error { return errors.New("not that node") }); err == nil {
		t.Fatal("dialer accepted a server its authorizer rejects")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	c := DefaultConfig()
	c.LeaderLeaseTimeout = 2 * c.HeartbeatTimeout
	if c.Validate() == nil {
		t.Fatal("lease longer than heartbeat accepted")
	}
	c = DefaultConfig()
	c.MaxAppendEntries = 0
	if c.Validate() == nil {
		t.Fatal("zero MaxAppendEntries accepted")
	}
}
