package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/network/chaincode"
	"github.com/medshare/medshare/network/channel"
	"github.com/medshare/medshare/network/kvcc"
)

// shippedProfile is the channel profile scripts/network.sh creates the
// channels from.
const shippedProfile = "../../network/configtx.yaml"

// TestShippedACLNamesEveryFunction checks the access rules shipped in
// network/configtx.yaml (issue 10, hole 8: it had none, so every member's
// clients and administrators could call every function): on each channel,
// every function of every chaincode the network enables there has a rule of
// its own, every rule names a function that exists, configuration is for
// administrators alone, and no rule admits nodes. TestDemo and the
// chaincode suite run their flows under these rules.
func TestShippedACLNamesEveryFunction(t *testing.T) {
	p, err := channel.LoadProfile(shippedProfile, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry()
	if err != nil {
		t.Fatal(err)
	}
	enabled := map[string][]string{ // as scripts/network.sh deploys them
		"main":        {index.Name, kvcc.Name},
		"side-high":   {storage.Name, ptl.Name, provenance.Name, kvcc.Name},
		"side-medium": {storage.Name, ptl.Name, provenance.Name, kvcc.Name},
		"side-low":    {storage.Name, ptl.Name, provenance.Name, kvcc.Name},
	}
	if got := p.ChannelNames(); !slices.Equal(got, []string{"main", "side-high", "side-low", "side-medium"}) {
		t.Fatalf("profile channels %v", got)
	}
	for ch, ccs := range enabled {
		rules := map[string][]string{}
		for _, r := range p.Channels[ch].ACL {
			if _, dup := rules[r.Resource]; dup {
				t.Errorf("%s: two rules for %s", ch, r.Resource)
			}
			rules[r.Resource] = r.Principals
			for _, pr := range r.Principals {
				if strings.HasSuffix(pr, ".node") || pr == "*.*" {
					t.Errorf("%s: %s admits %s", ch, r.Resource, pr)
				}
			}
		}
		if !slices.Equal(rules["*"], []string{"*.admin"}) {
			t.Errorf("%s: the catch-all rule is %v, want administrators only", ch, rules["*"])
		}
		named := map[string]bool{"*": true}
		for _, name := range ccs {
			inv, err := reg[name]()
			if err != nil {
				t.Fatal(err)
			}
			cc := inv.(*chaincode.Chaincode)
			if _, ok := rules[name+"/*"]; ok {
				named[name+"/*"] = true
				continue
			}
			for _, fn := range cc.Functions() {
				plain := strings.TrimPrefix(fn, cc.DefaultContract()+":")
				res := name + "/" + plain
				principals, ok := rules[res]
				if !ok {
					t.Errorf("%s: no rule for %s", ch, res)
					continue
				}
				named[res] = true
				if plain == "Init" && !slices.Equal(principals, []string{"*.admin"}) {
					t.Errorf("%s: %s admits %v, want administrators only", ch, res, principals)
				}
			}
		}
		for res := range rules {
			if !named[res] {
				t.Errorf("%s: rule %s names no function of the chaincode enabled there", ch, res)
			}
		}
	}
}
