// Package invoke calls another chaincode of the same channel within the
// current transaction and decodes its JSON result.
package invoke

import (
	"encoding/json"
	"fmt"

	"github.com/medshare/medshare/chaincode/internal/jsoncache"
	"github.com/medshare/medshare/network/chaincode"
)

// Call invokes fn of chaincode name with string arguments and decodes the
// JSON result into a new T. The callee's writes join the transaction only if
// it succeeds; its error is returned as the stub wraps it
// ("chaincode <name>: <error>"), so errors.Is and errors.As still see the
// callee's typed errors.
func Call[T any](stub chaincode.Stub, name, fn string, args ...string) (*T, error) {
	out, err := call(stub, name, fn, args)
	if err != nil {
		return nil, err
	}
	v := new(T)
	if err := json.Unmarshal(out, v); err != nil {
		return nil, fmt.Errorf("chaincode %s: %s returned an undecodable result: %w", name, fn, err)
	}
	return v, nil
}

// CallCached is Call with the result's decoding remembered in cache, by its
// exact bytes. The result is shared: the caller must not modify it.
func CallCached[T any](stub chaincode.Stub, cache *jsoncache.Cache[T], name, fn string, args ...string) (*T, error) {
	out, err := call(stub, name, fn, args)
	if err != nil {
		return nil, err
	}
	v, err := cache.Decode(out)
	if err != nil {
		return nil, fmt.Errorf("chaincode %s: %s returned an undecodable result: %w", name, fn, err)
	}
	return v, nil
}

func call(stub chaincode.Stub, name, fn string, args []string) ([]byte, error) {
	raw := make([][]byte, 0, len(args)+1)
	raw = append(raw, []byte(fn))
	for _, a := range args {
		raw = append(raw, []byte(a))
	}
	return stub.InvokeChaincode(name, raw, "")
}
