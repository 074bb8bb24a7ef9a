package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/gateway/api"
	"github.com/medshare/medshare/gateway/ledger"
	"github.com/medshare/medshare/network/block"
	"github.com/medshare/medshare/network/pb"
)

// Verification of a trail (GET /api/v1/audit/verify): on every node of the
// consortium (the side-chain registry names them), the provenance contract
// re-walks the requestor's thread or the request — hash chains, Merkle
// roots, sizes, the requestor's, the authority's, the nodes' (against the
// channel's MSP) and the report key's signatures, reports' sequence and
// verdicts — and the gateway checks that each MeDShare block the node
// serves is what the ledger block of its transaction wrote (that block's
// transaction root recomputed), then compares nodes: the ledger blocks of
// the trail's transactions, the chains' last common block and the
// MeDShare blocks themselves must be the same everywhere. Each problem
// names the node, the channel, the MeDShare block, the ledger block and
// the transaction.

// verifyNode is a node verification reads.
type verifyNode struct {
	name, org, address string
	l                  ledger.Ledger
	b                  ledger.Blocks
}

// localLedger is the gateway's own node.
type localLedger struct {
	ledger.Ledger
	ledger.Blocks
}

// verifyNodes returns the consortium's nodes: the registry's, the
// gateway's own through its connection, the others dialled. Without a
// registry or a dialler, the gateway's own node alone.
func (s *Server) verifyNodes(ctx context.Context) []verifyNode {
	own := verifyNode{name: s.nodeName(ctx), org: s.cfg.MSPID, address: s.cfg.Node, l: s.d.Ledger, b: s.d.Blocks}
	reg, err := s.chain.Registry(ctx)
	if err != nil || s.d.Nodes == nil {
		return []verifyNode{own}
	}
	seen := map[string]bool{}
	var out []verifyNode
	for _, sc := range reg {
		for _, n := range sc.Nodes {
			if seen[n.Address] {
				continue
			}
			seen[n.Address] = true
			if n.Address == s.cfg.Node {
				own.name, own.org = n.Name, n.Org
				out = append(out, own)
				continue
			}
			vn := verifyNode{name: n.Name, org: n.Org, address: n.Address}
			if nl, err := s.d.Nodes.Node(ctx, n.Org, n.Address); err == nil {
				vn.l, vn.b = nl, nl
			}
			out = append(out, vn)
		}
	}
	if !seen[s.cfg.Node] {
		out = append(out, own)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// mblock is a MeDShare block as one node serves it.
type mblock struct {
	id, desc, txID string
	format         string
	canon          []byte
}

// verifier collects what the nodes hold and what is wrong.
type verifier struct {
	s        *Server
	ctx      context.Context
	w        string
	res      *api.Verification
	ledgerBH map[string]map[uint64]map[string]string // channel → block → node → header hash
	content  map[string]map[string]map[string]string // channel → MeDShare block id → node → content hash
	desc     map[string]*mblock                      // channel/id → block (txID, description)
	heights  map[string]map[string]uint64            // channel → node → height
	txBlock  map[string]uint64                       // channel/txID → ledger block
}

func (v *verifier) problem(p api.VerifyProblem) {
	v.res.Problems = append(v.res.Problems, p)
}

// collect lists the MeDShare blocks of the subject one node serves.
func (v *verifier) collect(chain *ledger.Chain, ch, subject, id string) ([]mblock, error) {
	var parents []provenance.ParentBlock
	switch subject {
	case "user":
		bm := ""
		for range maxTrailPages {
			pg, err := chain.Thread(v.ctx, ch, v.w, id, MaxPageSize, bm)
			if err != nil {
				return nil, err
			}
			parents = append(parents, pg.Items...)
			if bm = pg.Bookmark; bm == "" {
				break
			}
		}
	default:
		view, err := chain.GetRequest(v.ctx, ch, v.w, id)
		if err != nil {
			return nil, err
		}
		parents = append(parents, view.Block)
	}
	var out []mblock
	for _, b := range parents {
		canon, _ := json.Marshal(b)
		out = append(out, mblock{id: b.ID, desc: fmt.Sprintf("parent block %d (request %s)", b.Height, b.ID), txID: b.Tx.TxID,
			format: provenance.ParentFormat, canon: canon})
		bm := ""
		for range provenance.MaxSideBlocks/MaxPageSize + 1 {
			pg, err := chain.SideBlocks(v.ctx, ch, v.w, b.ID, MaxPageSize, bm)
			if err != nil {
				return nil, err
			}
			for _, sb := range pg.Items {
				canon, _ := json.Marshal(sb)
				out = append(out, mblock{id: sb.ID, desc: fmt.Sprintf("side-block %d (%s) of parent block %d (request %s)", sb.Index, sb.ID, b.Height, b.ID),
					txID: sb.Tx.TxID, format: provenance.SideFormat, canon: canon})
			}
			if bm = pg.Bookmark; bm == "" {
				break
			}
		}
	}
	return out, nil
}

// walk runs the contract's own verification on one node.
func (v *verifier) walk(chain *ledger.Chain, ch, subject, id string) (*provenance.Verification, error) {
	if subject == "request" {
		return chain.VerifyRequest(v.ctx, ch, v.w, id)
	}
	total := &provenance.Verification{OK: true, Requestor: id}
	cursor := ""
	for range 100 {
		r, err := chain.VerifyThread(v.ctx, ch, v.w, id, cursor, provenance.MaxVerifyBlocks)
		if err != nil {
			return nil, err
		}
		total.Checked += r.Checked
		if !r.OK {
			total.OK, total.Broken = false, r.Broken
			return total, nil
		}
		if cursor = r.Next; cursor == "" {
			break
		}
	}
	return total, nil
}

// checkNode verifies one channel of one node.
func (v *verifier) checkNode(n verifyNode, ch, subject, id string) api.NodeState {
	st := api.NodeState{Node: n.name, Org: n.org, Channel: ch, OK: true}
	bad := func(p api.VerifyProblem) {
		p.Node, p.Channel = n.name, ch
		st.OK = false
		v.problem(p)
	}
	if n.l == nil {
		st.OK, st.Error = false, "cannot connect to "+n.address
		bad(api.VerifyProblem{Block: "the node", Link: "unreachable", Detail: st.Error})
		return st
	}
	if n.b != nil {
		info, err := n.b.ChainInfo(v.ctx, ch)
		if err != nil {
			st.Error = err.Error()
			bad(api.VerifyProblem{Block: "the node", Link: "unreachable", Detail: err.Error()})
			return st
		}
		st.Height, st.BlockHash, st.StateHash = info.GetHeight(), hex.EncodeToString(info.GetCurrentHash()), hex.EncodeToString(info.GetStateHash())
		v.heights[ch][n.name] = info.GetHeight()
		if info.GetHalted() {
			bad(api.VerifyProblem{Block: "the channel", Link: "halted", Detail: info.GetAlert()})
		}
	}
	chain := &ledger.Chain{L: n.l, Signer: v.s.d.Signer}
	blocks, err := v.collect(chain, ch, subject, id)
	switch {
	case err != nil && isNotFound(err) && subject == "request":
		bad(api.VerifyProblem{Block: "request " + id, Link: "missing", Detail: err.Error()})
		return st
	case err != nil:
		st.Error = err.Error()
		bad(api.VerifyProblem{Block: "the trail", Link: "unreadable", Detail: chaincodeProblem(err).Error()})
		return st
	case len(blocks) == 0:
		// No thread on this channel here; if other nodes hold blocks of it,
		// the comparison names this node.
		return st
	}
	w, err := v.walk(chain, ch, subject, id)
	if err != nil {
		st.Error = err.Error()
		bad(api.VerifyProblem{Block: "the trail", Link: "unreadable", Detail: chaincodeProblem(err).Error()})
		return st
	}
	st.Checked = w.Checked
	if !w.OK && w.Broken != nil {
		p := api.VerifyProblem{Block: w.Broken.Block, Link: w.Broken.Link, Detail: w.Broken.Detail}
		for _, b := range blocks {
			if (w.Broken.Side == 0 && b.id == w.Broken.RequestID) || (w.Broken.Side > 0 && b.id == w.Broken.SideID) {
				p.TxID = b.txID
			}
		}
		bad(p)
	}
	if v.content[ch] == nil {
		v.content[ch] = map[string]map[string]string{}
	}
	fetched := map[uint64]bool{}
	for i := range blocks {
		b := &blocks[i]
		sum := sha256.Sum256(b.canon)
		if v.content[ch][b.id] == nil {
			v.content[ch][b.id] = map[string]string{}
		}
		v.content[ch][b.id][n.name] = hex.EncodeToString(sum[:])
		v.desc[ch+"/"+b.id] = b
		if n.b == nil {
			continue
		}
		ptx, err := n.b.Transaction(v.ctx, ch, b.txID)
		if err != nil {
			bad(api.VerifyProblem{Block: b.desc, TxID: b.txID, Link: "missing", Detail: "the node does not hold the transaction that wrote the block: " + err.Error()})
			continue
		}
		num := ptx.GetBlockNumber()
		v.txBlock[ch+"/"+b.txID] = num
		if !v.servedAsWritten(ptx.GetResult().GetWrites(), b) {
			bad(api.VerifyProblem{Block: b.desc, LedgerBlock: num, TxID: b.txID, Link: "state",
				Detail: fmt.Sprintf("the node serves this block differently from what ledger block %d (transaction %s) wrote", num, b.txID)})
		}
		if fetched[num] {
			continue
		}
		fetched[num] = true
		v.ledgerBlock(n, ch, num, bad)
	}
	return st
}

// servedAsWritten reports whether the block the node serves is the value
// its transaction wrote.
func (v *verifier) servedAsWritten(writes []*pb.KVWrite, b *mblock) bool {
	for _, w := range writes {
		if w.GetNamespace() != provenance.Name || w.GetDelete() {
			continue
		}
		var probe struct {
			Format string `json:"format"`
			ID     string `json:"id"`
		}
		if json.Unmarshal(w.GetValue(), &probe) != nil || probe.Format != b.format || probe.ID != b.id {
			continue
		}
		var canon []byte
		if b.format == provenance.ParentFormat {
			var pb provenance.ParentBlock
			if json.Unmarshal(w.GetValue(), &pb) != nil {
				return false
			}
			canon, _ = json.Marshal(pb)
		} else {
			var sb provenance.SideBlock
			if json.Unmarshal(w.GetValue(), &sb) != nil {
				return false
			}
			canon, _ = json.Marshal(sb)
		}
		return bytes.Equal(canon, b.canon)
	}
	return false
}

// ledgerBlock checks a ledger block's transaction root on one node and
// records its header hash for the comparison across nodes.
func (v *verifier) ledgerBlock(n verifyNode, ch string, num uint64, bad func(api.VerifyProblem)) {
	blk, err := n.b.Block(v.ctx, ch, num)
	if err != nil {
		bad(api.VerifyProblem{Block: fmt.Sprintf("ledger block %d", num), LedgerBlock: num, Link: "missing", Detail: err.Error()})
		return
	}
	h := blk.GetHeader()
	root := block.TxRoot(blk.GetTransactions(), blk.GetResults())
	if !bytes.Equal(root[:], h.GetTxRoot()) {
		bad(api.VerifyProblem{Block: fmt.Sprintf("ledger block %d", num), LedgerBlock: num, Link: "txRoot",
			Detail: "the block's transactions and results do not hash to its header's transaction root"})
	}
	hh := block.HeaderHash(h)
	if v.ledgerBH[ch] == nil {
		v.ledgerBH[ch] = map[uint64]map[string]string{}
	}
	if v.ledgerBH[ch][num] == nil {
		v.ledgerBH[ch][num] = map[string]string{}
	}
	v.ledgerBH[ch][num][n.name] = hex.EncodeToString(hh[:])
}

// outliers returns the nodes whose value differs from the most common one
// (ties: the first in name order wins), and that value.
func outliers(byNode map[string]string) ([]string, string) {
	count := map[string]int{}
	names := make([]string, 0, len(byNode))
	for n, h := range byNode {
		count[h]++
		names = append(names, n)
	}
	sort.Strings(names)
	best := ""
	for _, n := range names {
		if h := byNode[n]; best == "" || count[h] > count[best] {
			best = h
		}
	}
	var out []string
	for _, n := range names {
		if byNode[n] != best {
			out = append(out, n)
		}
	}
	return out, best
}

// compare compares the nodes with each other.
func (v *verifier) compare(nodes []verifyNode) {
	var chans []string
	for ch := range v.content {
		chans = append(chans, ch)
	}
	sort.Strings(chans)
	for _, ch := range chans {
		ids := make([]string, 0, len(v.content[ch]))
		for id := range v.content[ch] {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			odd, _ := outliers(v.content[ch][id])
			b := v.desc[ch+"/"+id]
			for _, n := range odd {
				v.problem(api.VerifyProblem{Node: n, Channel: ch, Block: b.desc, TxID: b.txID, Link: "content",
					Detail: fmt.Sprintf("the node serves this block differently from the other %d node(s)", len(v.content[ch][id])-len(odd))})
			}
			if len(v.content[ch][id]) < len(nodes) {
				for _, n := range nodes {
					if _, ok := v.content[ch][id][n.name]; !ok && v.heights[ch][n.name] > 0 && !v.behind(ch, n.name, b) {
						v.problem(api.VerifyProblem{Node: n.name, Channel: ch, Block: b.desc, TxID: b.txID, Link: "missing",
							Detail: "the other nodes serve this block; this one does not"})
					}
				}
			}
		}
		nums := make([]uint64, 0, len(v.ledgerBH[ch]))
		for num := range v.ledgerBH[ch] {
			nums = append(nums, num)
		}
		sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
		for _, num := range nums {
			odd, _ := outliers(v.ledgerBH[ch][num])
			for _, n := range odd {
				v.problem(api.VerifyProblem{Node: n, Channel: ch, Block: fmt.Sprintf("ledger block %d", num), LedgerBlock: num, Link: "blockHash",
					Detail: "the node's block has another header hash than the other nodes'"})
			}
		}
	}
}

// behind reports whether node had not yet reached the ledger block that
// wrote b when it was asked: the other nodes committed it a moment before,
// so its absence there is lag, not a changed ledger (a node that claims a
// height past the block and does not serve it is still reported). Nodes
// are asked one after the other while the channel keeps committing.
func (v *verifier) behind(ch, node string, b *mblock) bool {
	num, ok := v.txBlock[ch+"/"+b.txID]
	return ok && v.heights[ch][node] <= num
}

// lastCommon compares the header of the channels' last common block across
// the nodes.
func (v *verifier) lastCommon(nodes []verifyNode, ch string) {
	var h uint64
	first := true
	for _, n := range nodes {
		if ht, ok := v.heights[ch][n.name]; ok && (first || ht < h) {
			h, first = ht, false
		}
	}
	if first || h == 0 {
		return
	}
	hashes := map[string]string{}
	for _, n := range nodes {
		if n.b == nil {
			continue
		}
		if _, ok := v.heights[ch][n.name]; !ok {
			continue
		}
		blk, err := n.b.Block(v.ctx, ch, h-1)
		if err != nil {
			continue
		}
		hh := block.HeaderHash(blk.GetHeader())
		hashes[n.name] = hex.EncodeToString(hh[:])
	}
	odd, _ := outliers(hashes)
	for _, n := range odd {
		v.problem(api.VerifyProblem{Node: n, Channel: ch, Block: fmt.Sprintf("ledger block %d", h-1), LedgerBlock: h - 1, Link: "blockHash",
			Detail: "the node's last block in common with the others has another header hash (its chain or state differs)"})
	}
}

// auditVerify verifies a user's (requestor's) trail or one request on every
// node (GET /api/v1/audit/verify).
func (s *Server) auditVerify(c *gin.Context, p *Principal) error {
	subject, id, err := parseSubject(c, "user", "request")
	if err != nil {
		return err
	}
	w, err := s.readWarrant(c, p)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	chans := sideChannels()
	if subject == "request" {
		ch, _, err := s.findRequest(ctx, w, id)
		if err != nil {
			return err
		}
		chans = []string{ch}
	} else if _, err := s.chain.Thread(ctx, chans[0], w, id, 1, ""); err != nil {
		// The caller may not read this thread: say so once, not per node.
		return chaincodeProblem(err)
	}
	res := &api.Verification{Subject: subject, ID: id, At: s.d.Now().UTC(), Nodes: []api.NodeState{}, Problems: []api.VerifyProblem{}}
	v := &verifier{s: s, ctx: ctx, w: w, res: res, ledgerBH: map[string]map[uint64]map[string]string{},
		content: map[string]map[string]map[string]string{}, desc: map[string]*mblock{}, heights: map[string]map[string]uint64{},
		txBlock: map[string]uint64{}}
	nodes := s.verifyNodes(ctx)
	for _, ch := range chans {
		v.heights[ch] = map[string]uint64{}
		for _, n := range nodes {
			st := v.checkNode(n, ch, subject, id)
			res.Nodes = append(res.Nodes, st)
			if st.Checked > res.Blocks {
				res.Blocks = st.Checked
			}
		}
		v.lastCommon(nodes, ch)
	}
	v.compare(nodes)
	for i := range res.Problems {
		p := &res.Problems[i]
		if p.LedgerBlock == 0 && p.TxID != "" {
			p.LedgerBlock = v.txBlock[p.Channel+"/"+p.TxID]
		}
	}
	res.OK = len(res.Problems) == 0
	if !res.OK {
		var where []string
		for _, p := range res.Problems {
			where = append(where, p.Node+"/"+p.Channel+": "+p.Link)
		}
		s.log.Warn("trail verification found problems", "subject", subject, "problems", strings.Join(where, "; "))
	}
	return reply(c, http.StatusOK, res)
}
