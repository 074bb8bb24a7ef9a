package storage

import (
	"strconv"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/warrant"
	"github.com/medshare/medshare/network/chaincode"
)

// ReadAs runs History — a record's versions — on behalf of the reader a
// warrant names (package chaincode/internal/warrant): the caller is the
// relay the warrant names (a gateway), and the read sees what the reader may
// see (the record's owner, an auditor the configuration names), never the
// relay's own rights. args is History's arguments as a JSON array of
// strings.
func (s *Storage) ReadAs(ctx chaincode.TransactionContext, warrantJSON, fn, args string) ([]byte, error) {
	return warrant.Serve(ctx, warrantJSON, fn, args, s.sigs.Verify, map[string]warrant.Read{
		"History": func(ctx chaincode.TransactionContext, a []string) (any, error) {
			if err := warrant.Want("History", a, 3); err != nil {
				return nil, err
			}
			n, err := strconv.ParseInt(a[1], 10, 32)
			if err != nil {
				return nil, ccerr.Invalid("pageSize", "must be a decimal number from 1 to 100")
			}
			return s.History(ctx, a[0], int32(n), a[2])
		},
	})
}
