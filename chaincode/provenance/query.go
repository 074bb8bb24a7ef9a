package provenance

import (
	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/kv"
	"github.com/medshare/medshare/chaincode/internal/page"
	"github.com/medshare/medshare/chaincode/internal/statekey"
	"github.com/medshare/medshare/network/chaincode"
)

// readable loads a request for a caller who may read it: its owner, an admin
// or an auditor.
func (p *Provenance) readable(ctx chaincode.TransactionContext, requestID string) (*ParentBlock, *State, error) {
	_, who, err := p.cfg.Caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	parent, st, err := p.request(ctx.GetStub(), "requestID", requestID)
	if err != nil {
		return nil, nil, err
	}
	if err := who.RequireReader(parent.Tx.OID, "read request "+requestID); err != nil {
		return nil, nil, err
	}
	return parent, st, nil
}

// GetRequest returns a request's parent block and state. Its owner, admins
// and auditors may read it.
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

// auditor checks the configuration and that the caller is an admin or an
// auditor.
func (p *Provenance) auditor(ctx chaincode.TransactionContext, what string) error {
	_, who, err := p.cfg.Caller(ctx)
	if err != nil {
		return err
	}
	return who.RequireAuditor(what)
}

// ListThread lists a requestor's (key-hash or base64 key) parent blocks in
// thread order. A thread spans owners, so only admins and auditors may.
func (p *Provenance) ListThread(ctx chaincode.TransactionContext, requestor string, pageSize int32, bookmark string) (*page.Page[ParentBlock], error) {
	if err := p.auditor(ctx, "list a requestor's thread"); err != nil {
		return nil, err
	}
	rh, _, err := statekey.UserRef("requestor", requestor)
	if err != nil {
		return nil, err
	}
	return page.Composite(ctx.GetStub(), objParent, []string{rh}, pageSize, bookmark, kv.Decode[ParentBlock])
}

// ListByOwner lists the requests the caller recorded as owner, by request id.
func (p *Provenance) ListByOwner(ctx chaincode.TransactionContext, pageSize int32, bookmark string) (*page.Page[Summary], error) {
	_, who, err := p.cfg.Caller(ctx)
	if err != nil {
		return nil, err
	}
	return page.Composite(ctx.GetStub(), objOwner, []string{who.OwnerHash()}, pageSize, bookmark, kv.Decode[Summary])
}
