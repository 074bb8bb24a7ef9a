package ptl

import (
	"strconv"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/warrant"
	"github.com/medshare/medshare/network/chaincode"
)

// ReadAs runs one of P-TL's audit reads — ListUserLog, ListAccessLog,
// ListAccesses, ListViolations (of one record), Status — on behalf of the
// reader a warrant names (package chaincode/internal/warrant): the caller is
// the relay the warrant names (a gateway), and the read sees what the reader
// may see — the user concerned, the record's owner, an auditor the
// configuration names — never the relay's own rights. args is the read's
// arguments as a JSON array of strings.
func (c *PTL) ReadAs(ctx chaincode.TransactionContext, warrantJSON, fn, args string) ([]byte, error) {
	paged := func(name string, f func(chaincode.TransactionContext, string, int32, string) (any, error)) warrant.Read {
		return func(ctx chaincode.TransactionContext, a []string) (any, error) {
			if err := warrant.Want(name, a, 3); err != nil {
				return nil, err
			}
			n, err := strconv.ParseInt(a[1], 10, 32)
			if err != nil {
				return nil, ccerr.Invalid("pageSize", "must be a decimal number from 1 to 100")
			}
			return f(ctx, a[0], int32(n), a[2])
		}
	}
	return warrant.Serve(ctx, warrantJSON, fn, args, c.sigs.Verify, map[string]warrant.Read{
		"ListUserLog": paged("ListUserLog", func(ctx chaincode.TransactionContext, s string, n int32, b string) (any, error) {
			return c.ListUserLog(ctx, s, n, b)
		}),
		"ListAccessLog": paged("ListAccessLog", func(ctx chaincode.TransactionContext, s string, n int32, b string) (any, error) {
			return c.ListAccessLog(ctx, s, n, b)
		}),
		"ListAccesses": paged("ListAccesses", func(ctx chaincode.TransactionContext, s string, n int32, b string) (any, error) {
			return c.ListAccesses(ctx, s, n, b)
		}),
		"ListViolations": paged("ListViolations", func(ctx chaincode.TransactionContext, s string, n int32, b string) (any, error) {
			if s == allRecords {
				// "*" is the caller's own records: a reader through a relay
				// names the record.
				return nil, ccerr.Invalid("target", "through a warrant, name the record")
			}
			return c.ListViolations(ctx, s, n, b)
		}),
		"Status": func(ctx chaincode.TransactionContext, a []string) (any, error) {
			if err := warrant.Want("Status", a, 2); err != nil {
				return nil, err
			}
			return c.Status(ctx, a[0], a[1])
		},
	})
}
