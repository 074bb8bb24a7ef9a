package chaincode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// ContractInterface is what New accepts: a contract with a name. Embed
// Contract to implement it.
type ContractInterface interface {
	GetName() string
}

// Contract is embedded by contract types. Its Name is the contract's name in
// function names ("Name:Function"); when empty, the type's name is used.
type Contract struct {
	Name string
}

// GetName returns the contract's configured name.
func (c *Contract) GetName() string { return c.Name }

// Chaincode routes transactions to the methods of its contracts. Functions
// are addressed as "Contract:Method", or as "Method" on the first (default)
// contract. It implements Invoker.
type Chaincode struct {
	contracts   map[string]*contractFuncs
	order       []string
	defaultName string
}

type contractFuncs struct {
	name  string
	recv  reflect.Value
	funcs map[string]*txFunc
}

type txFunc struct {
	name    string
	method  reflect.Value
	params  []reflect.Type
	returns returnKind
}

type returnKind int

const (
	returnNone       returnKind = iota // func(...)
	returnError                        // func(...) error
	returnValue                        // func(...) T
	returnValueError                   // func(...) (T, error)
)

var (
	ctxType   = reflect.TypeFor[TransactionContext]()
	errorType = reflect.TypeFor[error]()
	bytesType = reflect.TypeFor[[]byte]()
)

// ignoredMethods are methods of the embedded Contract, not transactions.
var ignoredMethods = map[string]bool{"GetName": true}

// New builds a chaincode from contracts. The first contract is the default
// one. It fails if a contract has no transaction functions, a name is used
// twice, or a method has parameter or return types the router cannot decode.
func New(contracts ...ContractInterface) (*Chaincode, error) {
	if len(contracts) == 0 {
		return nil, fmt.Errorf("chaincode: no contracts")
	}
	cc := &Chaincode{contracts: make(map[string]*contractFuncs)}
	for _, c := range contracts {
		cf, err := inspect(c)
		if err != nil {
			return nil, err
		}
		if _, dup := cc.contracts[cf.name]; dup {
			return nil, fmt.Errorf("chaincode: contract name %q used twice", cf.name)
		}
		cc.contracts[cf.name] = cf
		cc.order = append(cc.order, cf.name)
	}
	cc.defaultName = cc.order[0]
	return cc, nil
}

func inspect(c ContractInterface) (*contractFuncs, error) {
	v := reflect.ValueOf(c)
	t := v.Type()
	name := c.GetName()
	if name == "" {
		name = reflect.Indirect(v).Type().Name()
	}
	if strings.Contains(name, ":") {
		return nil, fmt.Errorf("chaincode: contract name %q contains ':'", name)
	}
	cf := &contractFuncs{name: name, recv: v, funcs: make(map[string]*txFunc)}
	for i := range t.NumMethod() {
		m := t.Method(i)
		if ignoredMethods[m.Name] {
			continue
		}
		mt := m.Type // includes the receiver
		if mt.NumIn() < 2 || mt.In(1) != ctxType {
			continue
		}
		f := &txFunc{name: m.Name, method: v.Method(i)}
		for j := 2; j < mt.NumIn(); j++ {
			p := mt.In(j)
			if !decodable(p) {
				return nil, fmt.Errorf("chaincode: %s.%s: parameter %d has unsupported type %s", name, m.Name, j-1, p)
			}
			f.params = append(f.params, p)
		}
		switch {
		case mt.NumOut() == 0:
			f.returns = returnNone
		case mt.NumOut() == 1 && mt.Out(0) == errorType:
			f.returns = returnError
		case mt.NumOut() == 1:
			f.returns = returnValue
		case mt.NumOut() == 2 && mt.Out(1) == errorType:
			f.returns = returnValueError
		default:
			return nil, fmt.Errorf("chaincode: %s.%s: must return (), error, T or (T, error)", name, m.Name)
		}
		cf.funcs[m.Name] = f
	}
	if len(cf.funcs) == 0 {
		return nil, fmt.Errorf("chaincode: contract %s has no transaction functions", name)
	}
	return cf, nil
}

func decodable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Func, reflect.Chan, reflect.UnsafePointer, reflect.Interface, reflect.Complex64, reflect.Complex128, reflect.Uintptr:
		return false
	}
	return true
}

// Functions lists every callable function name, "Contract:Method", sorted.
func (cc *Chaincode) Functions() []string {
	var out []string
	for _, c := range cc.order {
		for f := range cc.contracts[c].funcs {
			out = append(out, c+":"+f)
		}
	}
	sort.Strings(out)
	return out
}

// DefaultContract is the name of the contract whose functions may be called
// without a prefix.
func (cc *Chaincode) DefaultContract() string { return cc.defaultName }

// Invoke implements Invoker: it decodes the arguments, calls the function,
// and encodes its result. Strings and []byte are returned as they are,
// numbers and booleans in decimal text, everything else as JSON.
func (cc *Chaincode) Invoke(ctx TransactionContext) ([]byte, error) {
	args := ctx.GetStub().GetArgs()
	if len(args) == 0 {
		return nil, fmt.Errorf("no function name in the arguments")
	}
	contract, fn := cc.defaultName, string(args[0])
	if i := strings.LastIndexByte(fn, ':'); i >= 0 {
		contract, fn = fn[:i], fn[i+1:]
	}
	c, ok := cc.contracts[contract]
	if !ok {
		return nil, fmt.Errorf("Contract not found with name %s", contract)
	}
	f, ok := c.funcs[fn]
	if !ok {
		return nil, fmt.Errorf("Function %s not found in contract %s", fn, contract)
	}
	params := args[1:]
	if len(params) != len(f.params) {
		return nil, fmt.Errorf("Incorrect number of params. Expected %d, received %d", len(f.params), len(params))
	}
	in := make([]reflect.Value, 0, len(params)+1)
	in = append(in, reflect.ValueOf(ctx))
	for i, p := range params {
		v, err := decodeArg(p, f.params[i])
		if err != nil {
			return nil, fmt.Errorf("argument %d (%s) of %s: %w", i+1, f.params[i], fn, err)
		}
		in = append(in, v)
	}
	out := f.method.Call(in)
	switch f.returns {
	case returnNone:
		return nil, nil
	case returnError:
		return nil, asError(out[0])
	case returnValue:
		return encodeResult(out[0])
	default:
		if err := asError(out[1]); err != nil {
			return nil, err
		}
		return encodeResult(out[0])
	}
}

func asError(v reflect.Value) error {
	if v.IsNil() {
		return nil
	}
	return v.Interface().(error)
}

func decodeArg(b []byte, t reflect.Type) (reflect.Value, error) {
	v := reflect.New(t).Elem()
	s := string(b)
	switch t.Kind() {
	case reflect.String:
		v.SetString(s)
		return v, nil
	case reflect.Bool:
		x, err := strconv.ParseBool(s)
		if err != nil {
			return v, fmt.Errorf("not a boolean: %+q", s)
		}
		v.SetBool(x)
		return v, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		x, err := strconv.ParseInt(s, 10, t.Bits())
		if err != nil {
			return v, fmt.Errorf("not an integer of %d bits: %+q", t.Bits(), s)
		}
		v.SetInt(x)
		return v, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		x, err := strconv.ParseUint(s, 10, t.Bits())
		if err != nil {
			return v, fmt.Errorf("not an unsigned integer of %d bits: %+q", t.Bits(), s)
		}
		v.SetUint(x)
		return v, nil
	case reflect.Float32, reflect.Float64:
		x, err := strconv.ParseFloat(s, t.Bits())
		if err != nil {
			return v, fmt.Errorf("not a number: %+q", s)
		}
		v.SetFloat(x)
		return v, nil
	}
	if t == bytesType {
		v.SetBytes(bytes.Clone(b))
		return v, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v.Addr().Interface()); err != nil {
		return v, jsonError(err)
	}
	if dec.More() {
		return v, fmt.Errorf("invalid JSON: trailing data")
	}
	return v, nil
}

// jsonError describes a decoding error in words of our own, built from the
// error's fields: chaincode errors enter the transaction's result, which
// every node must compute alike, and encoding/json's texts are not promised
// to stay the same between Go releases.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("invalid JSON: syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		return fmt.Errorf("invalid JSON: field %s does not hold a %s", typ.Field, typ.Type)
	case errors.As(err, &typ):
		return fmt.Errorf("invalid JSON: the value is not a %s", typ.Type)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errors.New("invalid JSON: unexpected end")
	}
	return errors.New("invalid JSON")
}

func encodeResult(v reflect.Value) ([]byte, error) {
	switch v.Kind() {
	case reflect.String:
		return []byte(v.String()), nil
	case reflect.Bool:
		return []byte(strconv.FormatBool(v.Bool())), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return []byte(strconv.FormatInt(v.Int(), 10)), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return []byte(strconv.FormatUint(v.Uint(), 10)), nil
	case reflect.Float32, reflect.Float64:
		return []byte(strconv.FormatFloat(v.Float(), 'g', -1, v.Type().Bits())), nil
	case reflect.Pointer, reflect.Map, reflect.Slice:
		if v.IsNil() {
			return nil, nil
		}
	}
	if v.Type() == bytesType {
		return bytes.Clone(v.Bytes()), nil
	}
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return nil, fmt.Errorf("the result cannot be encoded as JSON")
	}
	return b, nil
}
