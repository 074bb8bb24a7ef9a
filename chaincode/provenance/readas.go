package provenance

import (
	"strconv"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/warrant"
	"github.com/medshare/medshare/network/chaincode"
)

// ReadAs runs one of the contract's audit reads — GetRequest, GetSideBlock,
// ListSideBlocks, ListThread, VerifyThread, VerifyRequest — on behalf of the
// reader a warrant names (package chaincode/internal/warrant): the caller
// is the relay the warrant names (a gateway), and the read sees what the
// reader may see — an auditor the configuration names, the requestor, the
// request's owner — never the relay's own rights. args is the read's
// arguments as a JSON array of strings; the result is the read's.
func (p *Provenance) ReadAs(ctx chaincode.TransactionContext, warrantJSON, fn, args string) ([]byte, error) {
	return warrant.Serve(ctx, warrantJSON, fn, args, p.sigs.Verify, map[string]warrant.Read{
		"GetRequest": func(ctx chaincode.TransactionContext, a []string) (any, error) {
			if err := warrant.Want("GetRequest", a, 1); err != nil {
				return nil, err
			}
			return p.GetRequest(ctx, a[0])
		},
		"GetSideBlock": func(ctx chaincode.TransactionContext, a []string) (any, error) {
			if err := warrant.Want("GetSideBlock", a, 2); err != nil {
				return nil, err
			}
			i, err := strconv.ParseUint(a[1], 10, 64)
			if err != nil {
				return nil, ccerr.Invalid("index", "must be a decimal side-block index")
			}
			return p.GetSideBlock(ctx, a[0], i)
		},
		"ListSideBlocks": func(ctx chaincode.TransactionContext, a []string) (any, error) {
			if err := warrant.Want("ListSideBlocks", a, 3); err != nil {
				return nil, err
			}
			n, err := pageSize(a[1])
			if err != nil {
				return nil, err
			}
			return p.ListSideBlocks(ctx, a[0], n, a[2])
		},
		"ListThread": func(ctx chaincode.TransactionContext, a []string) (any, error) {
			if err := warrant.Want("ListThread", a, 3); err != nil {
				return nil, err
			}
			n, err := pageSize(a[1])
			if err != nil {
				return nil, err
			}
			return p.ListThread(ctx, a[0], n, a[2])
		},
		"VerifyThread": func(ctx chaincode.TransactionContext, a []string) (any, error) {
			if err := warrant.Want("VerifyThread", a, 3); err != nil {
				return nil, err
			}
			n, err := strconv.ParseInt(a[2], 10, 32)
			if err != nil {
				return nil, ccerr.Invalid("limit", "must be a decimal number of blocks")
			}
			return p.VerifyThread(ctx, a[0], a[1], int32(n))
		},
		"VerifyRequest": func(ctx chaincode.TransactionContext, a []string) (any, error) {
			if err := warrant.Want("VerifyRequest", a, 1); err != nil {
				return nil, err
			}
			return p.VerifyRequest(ctx, a[0])
		},
	})
}

func pageSize(s string) (int32, error) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, ccerr.Invalid("pageSize", "must be a decimal number from 1 to 100")
	}
	return int32(n), nil
}
