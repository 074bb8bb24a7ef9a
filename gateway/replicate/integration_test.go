package replicate_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/gateway/ipfs"
	"github.com/medshare/medshare/gateway/replicate"
	"github.com/medshare/medshare/internal/kubo/kubotest"
	"github.com/medshare/medshare/network/client"
	"github.com/medshare/medshare/network/nettest"
	"github.com/medshare/medshare/network/pb"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// medshareBinary builds the node binary once per test run.
func medshareBinary(t *testing.T) string {
	binOnce.Do(func() { binPath, binErr = nettest.BuildBinary(t.TempDir()) })
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// Three organisations, each with its node and its kubo in one private
// swarm: hospital 1 uploads, the followers of hospital 2 and the research
// institute pin what the side chains index, and the record stays readable
// through hospital 2's kubo once hospital 1's is down.
func TestReplicationOnTheNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes and three kubo daemons")
	}
	swarm := kubotest.Start(t, 3, kubotest.Options{}) // first: fails fast in CI without kubo
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	channels := []string{"side-high", "side-low"}
	var ccs []nettest.Chaincode
	for _, ch := range channels {
		ccs = append(ccs, nettest.Chaincode{Name: storage.Name, Channels: []string{ch}, InitFn: "Init",
			InitArgs: [][]byte{[]byte(`{"level":"` + strings.TrimPrefix(ch, "side-") + `"}`)}})
	}
	n, err := nettest.Start(ctx, nettest.Options{
		Bin: medshareBinary(t), Dir: t.TempDir(), Channels: channels, Chaincodes: ccs, LogLevel: "warn",
		Batch: &pb.BatchConfig{MaxMessageCount: 100, TimeoutMillis: 10},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)

	kubos := make([]*ipfs.Client, 3)
	for i, nd := range swarm.Nodes {
		if kubos[i], err = ipfs.New(nd.APIAddr(), ipfs.WithTimeout(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	owner, err := n.Gateway(0, 0, "client")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := n.Identity(0, "client").LoadSigner()
	if err != nil {
		t.Fatal(err)
	}
	streams := []replicate.Stream{{"side-high", storage.Name}, {"side-low", storage.Name}}
	stateOf := []string{"", filepath.Join(t.TempDir(), "org2.json"), filepath.Join(t.TempDir(), "org3.json")}
	follow := func(org int) (*replicate.Follower, func()) {
		gw, err := n.Gateway(org, org, "client")
		if err != nil {
			t.Fatal(err)
		}
		cfg := replicate.DefaultConfig()
		cfg.Streams, cfg.StateFile = streams, stateOf[org]
		cfg.MinBackoff, cfg.MaxBackoff, cfg.SaveInterval = 100*time.Millisecond, time.Second, 100*time.Millisecond
		return running(t, replicate.FromGateway(gw), kubos[org], cfg)
	}
	pinnedAt := func(org int, cid string) func() bool {
		return func() bool { ok, err := kubos[org].Pinned(ctx, cid); return err == nil && ok }
	}
	// upload adds a ciphertext at hospital 1 and stores its Tx_sto; it
	// returns the CID and what the ledger said.
	upload := func(ch, recordID string, version uint64, data []byte) (string, error) {
		cid, commit, undo, err := kubos[0].AddTx(ctx, data)
		if err != nil {
			t.Fatal(err)
		}
		call, err := txbuild.Store(signer, ch, txbuild.StoreInput{RecordID: txbuild.RecordID(signer.ID(), recordID), Version: version, Address: cid, Keys: []byte("wrapped keys"), CheckCode: sha256.Sum256(data)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := owner.GetNetwork(ch).GetContract(call.Chaincode).SubmitTransaction(call.Fn, call.Args...); err != nil {
			if uerr := undo(ctx); uerr != nil {
				t.Fatal(uerr)
			}
			return cid, err
		}
		commit()
		return cid, nil
	}
	synthea := func() []byte { // a Synthea-sized ciphertext
		b := make([]byte, 300<<10)
		rand.Read(b)
		return b
	}

	f2, stop2 := follow(1)
	rec1 := synthea()
	cid1, err := upload("side-high", "rec-1", 1, rec1)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "hospital 2 pins rec-1", pinnedAt(1, cid1))

	t.Run("a failed upload leaves nothing pinned anywhere", func(t *testing.T) {
		bad := synthea()
		// Version 2 of a record that does not exist: the storage
		// chaincode refuses the Tx_sto.
		cid, err := upload("side-low", "rec-missing", 2, bad)
		var ee *client.EndorseError
		if !errors.As(err, &ee) {
			t.Fatalf("Tx_sto of a bad version: %v, want an endorsement refusal", err)
		}
		if pinnedAt(0, cid)() {
			t.Fatal("the owner's kubo keeps the failed upload pinned")
		}
		// A later valid upload on the same channel is replicated; the
		// failed one never is.
		cid2, err := upload("side-low", "rec-2", 1, synthea())
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "hospital 2 pins rec-2", pinnedAt(1, cid2))
		if pinnedAt(1, cid)() {
			t.Fatal("hospital 2 pinned a failed upload")
		}
	})

	t.Run("a follower started late catches up from the first block", func(t *testing.T) {
		follow(2)
		eventually(t, "the research institute pins rec-1", pinnedAt(2, cid1))
	})

	t.Run("a restarted follower resumes and pins what was stored meanwhile", func(t *testing.T) {
		stop2()
		if err := f2.Status().Check(time.Hour); err == nil {
			t.Fatal("a stopped follower reports healthy streams")
		}
		cid3, err := upload("side-high", "rec-3", 1, synthea())
		if err != nil {
			t.Fatal(err)
		}
		// While hospital 2's kubo is down too: the follower retries.
		if err := swarm.Nodes[1].Stop(); err != nil {
			t.Fatal(err)
		}
		f2, _ = follow(1)
		eventually(t, "the follower fails and retries", func() bool { return f2.Status().Failures > 0 })
		if err := swarm.Restart(ctx, 1); err != nil {
			t.Fatal(err)
		}
		eventually(t, "hospital 2 pins rec-3", pinnedAt(1, cid3))
		eventually(t, "the follower is idle", func() bool { return f2.Status().Pending == 0 })
		if st := f2.Status(); st.Pinned != 1 || st.AlreadyPinned > 2 {
			t.Errorf("the resumed follower pinned %d and found %d pinned; want rec-3 only, and little read again", st.Pinned, st.AlreadyPinned)
		}
	})

	t.Run("with hospital 1's kubo down, hospital 2's kubo serves the record", func(t *testing.T) {
		if err := swarm.Nodes[0].Stop(); err != nil {
			t.Fatal(err)
		}
		if _, err := kubos[0].Cat(ctx, cid1); !errors.Is(err, ipfs.ErrUnavailable) {
			t.Fatalf("hospital 1's kubo answers: %v", err)
		}
		got, err := kubos[1].Cat(ctx, cid1)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, rec1) || sha256.Sum256(got) != sha256.Sum256(rec1) {
			t.Fatal("hospital 2's copy differs from what hospital 1 stored")
		}
	})
	if err := f2.Status().Check(time.Minute); err != nil {
		t.Errorf("hospital 2's follower at the end: %v", err)
	}
}
