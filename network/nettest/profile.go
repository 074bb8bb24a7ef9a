package nettest

import (
	"fmt"

	"github.com/medshare/medshare/network/channel"
	"github.com/medshare/medshare/network/pb"
)

// profileACL returns the access rules channel name has in the channel
// profile at path (network/configtx.yaml), so that tests run their flows
// under the rules a deployment ships with. A channel the profile does not
// name gets none.
func profileACL(path, name string) ([]*pb.ACLRule, error) {
	p, err := channel.LoadProfile(path, "")
	if err != nil {
		return nil, fmt.Errorf("nettest: %w", err)
	}
	var rules []*pb.ACLRule
	for _, r := range p.Channels[name].ACL {
		rules = append(rules, &pb.ACLRule{Resource: r.Resource, Principals: r.Principals})
	}
	return rules, nil
}
