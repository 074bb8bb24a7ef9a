package txbuild

import (
	"encoding/base64"

	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/storage"
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
// and provenance on each side channel. A channel admin makes them, in the
// chaincode's deploy transaction (the lifecycle's init function "Init" with
// the call's one argument).
func DefaultInits(aaPublicKey []byte, nodes []index.Node, monitor ptl.Monitor) ([]Call, error) {
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
	if err := add(MainChannel, index.Name, index.Config{SideChains: chains}); err != nil {
		return nil, err
	}
	aa := base64.StdEncoding.EncodeToString(aaPublicKey)
	for _, sc := range SideChannels {
		if err := add(sc.Channel, storage.Name, storage.Config{Level: sc.Level}); err != nil {
			return nil, err
		}
		if err := add(sc.Channel, ptl.Name, ptl.Config{Level: sc.Level, AAPublicKey: aa, MaxClockSkew: "30s", Monitor: monitor}); err != nil {
			return nil, err
		}
		if err := add(sc.Channel, provenance.Name, provenance.Config{Level: sc.Level, MaxClockSkew: "30s"}); err != nil {
			return nil, err
		}
	}
	return calls, nil
}
