// Package kv reads and writes JSON values under composite keys and emits
// JSON events: the state access the medshare chaincodes share.
package kv

import (
	"encoding/json"
	"fmt"

	"github.com/medshare/medshare/network/chaincode"
)

// PutRaw stores b under the composite key (obj, attrs).
func PutRaw(stub chaincode.Stub, obj string, attrs []string, b []byte) error {
	key, err := stub.CreateCompositeKey(obj, attrs)
	if err != nil {
		return err
	}
	return stub.PutState(key, b)
}

// Put stores v as JSON under the composite key (obj, attrs).
func Put(stub chaincode.Stub, obj string, attrs []string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return PutRaw(stub, obj, attrs, b)
}

// Get decodes the JSON value under (obj, attrs) into v; ok is false when the
// key does not exist.
func Get(stub chaincode.Stub, obj string, attrs []string, v any) (ok bool, err error) {
	key, err := stub.CreateCompositeKey(obj, attrs)
	if err != nil {
		return false, err
	}
	b, err := stub.GetState(key)
	if err != nil || b == nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("%s %v: stored value is unreadable: %w", obj, attrs, err)
	}
	return true, nil
}

// Del deletes the composite key (obj, attrs).
func Del(stub chaincode.Stub, obj string, attrs []string) error {
	key, err := stub.CreateCompositeKey(obj, attrs)
	if err != nil {
		return err
	}
	return stub.DelState(key)
}

// Emit sets event name with v as its JSON payload.
func Emit(stub chaincode.Stub, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return stub.SetEvent(name, b)
}

// Decode is a listing decoder (see package page) for JSON values of type T.
func Decode[T any](_ string, _ []string, v []byte) (T, error) {
	var x T
	err := json.Unmarshal(v, &x)
	return x, err
}
