package txbuild

import (
	"encoding/base64"
	"fmt"

	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/internal/setup"
	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/network/pb"
)

// MainChannel is the channel of the index chaincode.
const MainChannel = "main"

// SideChannels are the side channels of the medshare network, each with
// the sensitivity level it stores, highest first: storage, ptl and
// provenance run on each.
var SideChannels = []struct{ Level, Channel string }{
	{"high", "side-high"}, {"medium", "side-medium"}, {"low", "side-low"},
}

// DefaultMonitor is P-TL's monitoring as scripts/network.sh configures it:
// three violations on a record within an hour block the user for it, ten on
// an owner's records for all of them, and a user may try one record at most
// 60 times a minute.
var DefaultMonitor = ptl.Monitor{Window: "1h", RecordThreshold: 3, OwnerThreshold: 10, RateLimit: 60, RatePeriod: "1m"}

// DefaultInits returns the Init calls that enable the medshare chaincodes
// as scripts/network.sh deploys them (deploy_default): index on main with
// the three side chains registered on nodes; storage, ptl (with the
// attribute authority's credential key aaPublicKey, PKIX DER, and monitor)
// and provenance on each side channel; every chaincode naming auditors
// (identities' unique names) as the identities that may read all audit
// data. Each call is the init call of a chaincode definition: the
// lifecycle's init function "Init" with the call's one argument, run when a
// majority of the channel's organisations approved the definition and an
// admin commits it (ConfigDefinition).
func DefaultInits(aaPublicKey []byte, nodes []index.Node, monitor ptl.Monitor, auditors []string) ([]Call, error) {
	if nodes == nil {
		nodes = []index.Node{}
	}
	var chains []index.SideChain
	for _, sc := range SideChannels {
		chains = append(chains, index.SideChain{Name: sc.Channel, Channel: sc.Channel, Level: sc.Level, Nodes: nodes})
	}
	var calls []Call
	add := func(channel, chaincode string, cfg any) error {
		js, err := marshal(chaincode+" configuration", cfg)
		if err != nil {
			return err
		}
		calls = append(calls, Call{Channel: channel, Chaincode: chaincode, Fn: "Init", Args: []string{js}})
		return nil
	}
	if err := add(MainChannel, index.Name, index.Config{SideChains: chains, Auditors: auditors}); err != nil {
		return nil, err
	}
	aa := base64.StdEncoding.EncodeToString(aaPublicKey)
	for _, sc := range SideChannels {
		if err := add(sc.Channel, storage.Name, storage.Config{Level: sc.Level, Auditors: auditors}); err != nil {
			return nil, err
		}
		if err := add(sc.Channel, ptl.Name, ptl.Config{Level: sc.Level, AAPublicKey: aa, MaxClockSkew: "30s", Monitor: monitor, Auditors: auditors}); err != nil {
			return nil, err
		}
		if err := add(sc.Channel, provenance.Name, provenance.Config{Level: sc.Level, MaxClockSkew: "30s", Auditors: auditors}); err != nil {
			return nil, err
		}
	}
	return calls, nil
}

// ConfigDefinition returns the chaincode definition that carries the
// configuration call c (an Init call from DefaultInits, or a changed one) as
// definition number sequence of c.Chaincode: each organisation's admin
// approves its encoding (lifecycle.EncodeDefinition) with the lifecycle's
// ApproveForMyOrg, and once a majority of the channel's organisations did,
// any admin commits it, which runs the Init call. Sequence 1 deploys; a
// configuration change is the committed sequence + 1.
func ConfigDefinition(c Call, version string, sequence uint64) (*pb.ChaincodeDefinition, error) {
	if c.Fn != setup.InitFunction || len(c.Args) != 1 {
		return nil, fmt.Errorf("txbuild: %s is not a configuration call (Init with one argument)", c)
	}
	if version == "" || sequence == 0 {
		return nil, fmt.Errorf("txbuild: %s: a definition needs a version and a sequence from 1", c)
	}
	return &pb.ChaincodeDefinition{Name: c.Chaincode, Version: version, Sequence: sequence,
		InitFunction: c.Fn, InitArgs: [][]byte{[]byte(c.Args[0])}}, nil
}
