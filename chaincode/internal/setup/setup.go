// Package setup implements the Init function every medshare chaincode has:
// the channel admin configures the chaincode once, in the deploy transaction,
// with one JSON argument, may later update that configuration, and every
// other function refuses to run until it exists.
package setup

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"

	"github.com/medshare/medshare/chaincode/ccerr"
	"github.com/medshare/medshare/chaincode/internal/caller"
	"github.com/medshare/medshare/network/chaincode"
)

// EventConfigured is the event Init emits; its payload is the stored
// configuration JSON.
const EventConfigured = "Configured"

// MaxConfigLen bounds the Init argument.
const MaxConfigLen = 64 << 10

// stateKey is the composite key holding the configuration: composite keys
// never appear in simple-key range queries.
var stateKey = func() string {
	k, _ := chaincode.CreateCompositeKey("config", nil)
	return k
}()

// Config loads, checks and stores the configuration T of one chaincode
// instance. Check validates a configuration and fills its derived,
// unexported fields (parsed keys, loaded time zones); it must depend on the
// configuration alone. Update, when set, vets a change from old to new (for
// fields that may not change once set).
//
// Loaded configurations are cached by their exact stored bytes, which is
// deterministic-safe: the result is a pure function of those bytes.
type Config[T any] struct {
	// Name is the chaincode's name, for messages.
	Name string
	// Check validates cfg and fills its derived fields.
	Check func(cfg *T) error
	// Update vets a change of configuration; nil allows any change.
	Update func(old, cfg *T) error

	mu     sync.Mutex
	raw    []byte
	cached *T
}

// Init stores the configuration raw (a JSON object) for the channel. Only a
// channel admin may call it; a second call updates the configuration. It
// returns the stored configuration.
func (c *Config[T]) Init(ctx chaincode.TransactionContext, raw string) (*T, error) {
	who, err := caller.Of(ctx)
	if err != nil {
		return nil, err
	}
	if err := who.RequireAdmin("call Init"); err != nil {
		return nil, err
	}
	if len(raw) > MaxConfigLen {
		return nil, ccerr.Invalid("config", "must be at most %d bytes of JSON", MaxConfigLen)
	}
	cfg := new(T)
	if err := DecodeStrict("config", []byte(raw), cfg); err != nil {
		return nil, err
	}
	if err := c.Check(cfg); err != nil {
		return nil, err
	}
	stub := ctx.GetStub()
	if c.Update != nil {
		prev, err := stub.GetState(stateKey)
		if err != nil {
			return nil, err
		}
		if prev != nil {
			old, err := c.decode(prev)
			if err != nil {
				return nil, err
			}
			if err := c.Update(old, cfg); err != nil {
				return nil, err
			}
		}
	}
	stored, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	if err := stub.PutState(stateKey, stored); err != nil {
		return nil, err
	}
	if err := stub.SetEvent(EventConfigured, stored); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Load returns the channel's configuration, or an ErrNotInitialised refusal
// before Init. The result is shared: callers must not modify it.
func (c *Config[T]) Load(ctx chaincode.TransactionContext) (*T, error) {
	b, err := ctx.GetStub().GetState(stateKey)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, ccerr.NotInitialised(c.Name)
	}
	return c.decode(b)
}

func (c *Config[T]) decode(b []byte) (*T, error) {
	c.mu.Lock()
	if c.cached != nil && bytes.Equal(c.raw, b) {
		v := c.cached
		c.mu.Unlock()
		return v, nil
	}
	c.mu.Unlock()
	cfg := new(T)
	if err := json.Unmarshal(b, cfg); err != nil {
		return nil, ccerr.Invalid("config", "stored configuration is unreadable: %v", err)
	}
	if err := c.Check(cfg); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.raw, c.cached = bytes.Clone(b), cfg
	c.mu.Unlock()
	return cfg, nil
}

// Caller loads the configuration and the transaction's creator.
func (c *Config[T]) Caller(ctx chaincode.TransactionContext) (*T, *caller.Caller, error) {
	cfg, err := c.Load(ctx)
	if err != nil {
		return nil, nil, err
	}
	who, err := caller.Of(ctx)
	if err != nil {
		return nil, nil, err
	}
	return cfg, who, nil
}

// Client is Caller for functions only client identities may call; what
// says what they do, for the refusal.
func (c *Config[T]) Client(ctx chaincode.TransactionContext, what string) (*T, *caller.Caller, error) {
	cfg, who, err := c.Caller(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := who.RequireClient(what); err != nil {
		return nil, nil, err
	}
	return cfg, who, nil
}

// DecodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data, with errors that name arg.
func DecodeStrict(arg string, b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return ccerr.Invalid(arg, "invalid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return ccerr.Invalid(arg, "invalid JSON: trailing data after the object")
	}
	return nil
}
