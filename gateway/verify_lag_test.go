package gateway

import (
	"testing"

	"github.com/medshare/medshare/gateway/api"
)

// TestVerifyTellsLagFromTampering: a node asked before it committed the
// ledger block that wrote a MeDShare block does not serve that block yet;
// verify must not report it, while a node whose height is past that block
// and does not serve it is reported as missing it.
func TestVerifyTellsLagFromTampering(t *testing.T) {
	nodes := []verifyNode{{name: "node0"}, {name: "node1"}, {name: "node2"}}
	blk := &mblock{id: "req-1", desc: "parent block 1 (request req-1)", txID: "tx1"}
	cases := []struct {
		name    string
		height1 uint64 // node1's height when asked; the block is in ledger block 7
		want    int    // problems reported
	}{
		{"node1 had not reached ledger block 7", 7, 0},
		{"node1 far behind", 3, 0},
		{"node1 past ledger block 7 without the block", 8, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := &verifier{res: &api.Verification{},
				content: map[string]map[string]map[string]string{"side-medium": {"req-1": {"node0": "h", "node2": "h"}}},
				desc:    map[string]*mblock{"side-medium/req-1": blk},
				heights: map[string]map[string]uint64{"side-medium": {"node0": 9, "node1": tc.height1, "node2": 9}},
				txBlock: map[string]uint64{"side-medium/tx1": 7},
			}
			v.compare(nodes)
			if len(v.res.Problems) != tc.want {
				t.Fatalf("problems %+v, want %d", v.res.Problems, tc.want)
			}
			if tc.want == 1 && (v.res.Problems[0].Node != "node1" || v.res.Problems[0].Link != "missing") {
				t.Fatalf("problem %+v, want node1 missing", v.res.Problems[0])
			}
		})
	}
}
