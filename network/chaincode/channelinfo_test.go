package chaincode_test

import (
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/medshare/medshare/network/chaincode"
	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/state"
)

func TestChannelMembersReachesChaincode(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ca, err := identity.NewCA(rand.Reader, "Org1MSP", "Org1", "ca.org1", t0.Add(-time.Hour), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	member, err := ca.IssueSigner(rand.Reader, identity.Request{CommonName: "alice", Role: identity.RoleClient, NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	msp, err := identity.NewMSP("Org1MSP", ca.Certificate())
	if err != nil {
		t.Fatal(err)
	}
	ms, err := identity.NewMembership(msp)
	if err != nil {
		t.Fatal(err)
	}
	cc := chaincode.InvokerFunc(func(ctx chaincode.TransactionContext) ([]byte, error) {
		m, ok := chaincode.ChannelMembers(ctx.GetStub())
		if !ok {
			return nil, errors.New("no members")
		}
		id, err := m.Validate("Org1MSP", member.Bytes(), t0)
		if err != nil {
			return nil, err
		}
		return []byte(m.IDs()[0] + " " + id.Name()), nil
	})
	inv := chaincode.Invocation{ChannelID: "ch", Chaincode: "cc", TxID: "tx", Timestamp: t0, Args: [][]byte{[]byte("f")}, Creator: member.Identity}
	if res := chaincode.Execute(cc, inv, state.NewMemStore(), state.NewMemStore()); res.Err == nil || res.Err.Error() != "no members" {
		t.Fatalf("without members: %v", res.Err)
	}
	inv.Members = ms
	res := chaincode.Execute(cc, inv, state.NewMemStore(), state.NewMemStore())
	if res.Err != nil || string(res.Payload) != "Org1MSP alice" {
		t.Fatalf("with members: %q, %v", res.Payload, res.Err)
	}
}
