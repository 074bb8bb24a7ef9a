package provenance

import (
	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/caller"
	"github.com/medshare/medshare/chaincode/internal/kv"
	"github.com/medshare/medshare/chaincode/internal/page"
	"github.com/medshare/medshare/chaincode/internal/statekey"
	"github.com/medshare/medshare/network/chaincode"
)

// readable loads a request for a caller who may read it: its owner, its
// requestor (the user whose id the request names) or a configured auditor.
func (p *Provenance) readable(ctx chaincode.TransactionContext, requestID string) (*ParentBlock, *State, error) {
	cfg, who, err := p.cfg.Caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	parent, st, err := p.request(ctx.GetStub(), "requestID", requestID)
	if err != nil {
		return nil, nil, err
	}
	if err := who.RequireReader(parent.Tx.OID, st.Requestor, cfg.Auditors, "read request "+requestID); err != nil {
		return nil, nil, err
	}
	return parent, st, nil
}

// GetRequest returns a request's parent block and state. Its owner, its
// requestor and the configured auditors may read it.
func (p *Provenance) GetRequest(ctx chaincode.TransactionContext, requestID string) (*View, error) {
	parent, st, err := p.readable(ctx, requestID)
	if err != nil {
		return nil, err
	}
	return &View{Block: *parent, State: *st}, nil
}

// GetSideBlock returns side-block index (from 1) of a request.
func (p *Provenance) GetSideBlock(ctx chaincode.TransactionContext, requestID string, index uint64) (*SideBlock, error) {
	if _, _, err := p.readable(ctx, requestID); err != nil {
		return nil, err
	}
	var sb SideBlock
	ok, err := kv.Get(ctx.GetStub(), objSide, []string{requestID, seq(index)}, &sb)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ccerr.NotFound("index", "request %s has no side-block %d", requestID, index)
	}
	return &sb, nil
}

// ListSideBlocks lists a request's side-blocks in order.
func (p *Provenance) ListSideBlocks(ctx chaincode.TransactionContext, requestID string, pageSize int32, bookmark string) (*page.Page[SideBlock], error) {
	if _, _, err := p.readable(ctx, requestID); err != nil {
		return nil, err
	}
	return page.Composite(ctx.GetStub(), objSide, []string{requestID}, pageSize, bookmark, kv.Decode[SideBlock])
}

// threadReader checks a requestor argument (a user id) and that the caller
// may read that user's thread: the user or a configured auditor. A thread
// spans owners, so owners read their own requests, not threads.
func (p *Provenance) threadReader(ctx chaincode.TransactionContext, requestor, what string) (*caller.Caller, error) {
	cfg, who, err := p.cfg.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := statekey.UserID("requestor", requestor); err != nil {
		return nil, err
	}
	return who, who.RequireReader("", requestor, cfg.Auditors, what)
}

// ListThread lists a requestor's (a user id) parent blocks in thread order.
// The requestor and the configured auditors may.
func (p *Provenance) ListThread(ctx chaincode.TransactionContext, requestor string, pageSize int32, bookmark string) (*page.Page[ParentBlock], error) {
	if _, err := p.threadReader(ctx, requestor, "list a requestor's thread"); err != nil {
		return nil, err
	}
	return page.Composite(ctx.GetStub(), objParent, []string{requestor}, pageSize, bookmark, kv.Decode[ParentBlock])
}

// ListByOwner lists the requests the caller recorded as owner, by request id.
func (p *Provenance) ListByOwner(ctx chaincode.TransactionContext, pageSize int32, bookmark string) (*page.Page[Summary], error) {
	_, who, err := p.cfg.Caller(ctx)
	if err != nil {
		return nil, err
	}
	return page.Composite(ctx.GetStub(), objOwner, []string{who.OwnerHash()}, pageSize, bookmark, kv.Decode[Summary])
}
