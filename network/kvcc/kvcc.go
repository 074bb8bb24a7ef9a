// Package kvcc is a minimal key-value chaincode that the ledger's own tests,
// benchmarks and smoke checks run, so that the ledger is exercised and
// measured independently of medshare's medical contracts.
package kvcc

import (
	"errors"
	"strconv"

	"github.com/medshare/medshare/network/chaincode"
)

// Name is the name under which the node registers this chaincode.
const Name = "kv"

// KV is the contract.
type KV struct{ chaincode.Contract }

// New returns the chaincode.
func New() (*chaincode.Chaincode, error) { return chaincode.New(&KV{}) }

// Put sets key to value.
func (*KV) Put(ctx chaincode.TransactionContext, key, value string) error {
	return ctx.GetStub().PutState(key, []byte(value))
}

// Get returns the value of key, failing if it does not exist.
func (*KV) Get(ctx chaincode.TransactionContext, key string) (string, error) {
	v, err := ctx.GetStub().GetState(key)
	if err != nil {
		return "", err
	}
	if v == nil {
		return "", errors.New("key " + key + " does not exist")
	}
	return string(v), nil
}

// Del deletes key.
func (*KV) Del(ctx chaincode.TransactionContext, key string) error {
	return ctx.GetStub().DelState(key)
}

// Incr adds one to the integer at key and returns the new value: a
// read-modify-write whose result depends on every earlier increment.
func (*KV) Incr(ctx chaincode.TransactionContext, key string) (int64, error) {
	v, err := ctx.GetStub().GetState(key)
	if err != nil {
		return 0, err
	}
	n := int64(0)
	if v != nil {
		if n, err = strconv.ParseInt(string(v), 10, 64); err != nil {
			return 0, errors.New("key " + key + " does not hold an integer")
		}
	}
	n++
	return n, ctx.GetStub().PutState(key, []byte(strconv.FormatInt(n, 10)))
}

// Emit sets key to value and emits an event named name carrying value.
func (*KV) Emit(ctx chaincode.TransactionContext, name, key, value string) error {
	if err := ctx.GetStub().PutState(key, []byte(value)); err != nil {
		return err
	}
	return ctx.GetStub().SetEvent(name, []byte(value))
}

// Fail writes and then fails with msg: nothing it wrote may survive.
func (*KV) Fail(ctx chaincode.TransactionContext, key, msg string) error {
	if err := ctx.GetStub().PutState(key, []byte("must not be committed")); err != nil {
		return err
	}
	return errors.New(msg)
}
