package ledger

import (
	"bytes"
	"testing"

	"github.com/medshare/medshare/network/state"
)

func TestStateCache(t *testing.T) {
	key := stateKey("cc", "k")
	tests := []struct {
		name string
		run  func(c *stateCache) (want []byte, wantOK bool)
	}{
		{"a fill is read back", func(c *stateCache) ([]byte, bool) {
			_, _, gen := c.get(key)
			c.fill(key, []byte("v1"), gen)
			return []byte("v1"), true
		}},
		{"an absent key is cached as absent", func(c *stateCache) ([]byte, bool) {
			_, _, gen := c.get(key)
			c.fill(key, nil, gen)
			return nil, true
		}},
		{"a fill that raced a commit is dropped", func(c *stateCache) ([]byte, bool) {
			_, _, gen := c.get(key) // a reader starts
			c.committed([]state.Write{{Namespace: "cc", Key: "other", Value: []byte("x")}})
			c.fill(key, []byte("old"), gen) // and finishes after the commit
			return nil, false
		}},
		{"a commit replaces the value", func(c *stateCache) ([]byte, bool) {
			_, _, gen := c.get(key)
			c.fill(key, []byte("v1"), gen)
			c.committed([]state.Write{{Namespace: "cc", Key: "k", Value: []byte("v2")}})
			return []byte("v2"), true
		}},
		{"a delete caches the key as absent", func(c *stateCache) ([]byte, bool) {
			_, _, gen := c.get(key)
			c.fill(key, []byte("v1"), gen)
			c.committed([]state.Write{{Namespace: "cc", Key: "k", Delete: true}})
			return nil, true
		}},
		{"a large write evicts the key", func(c *stateCache) ([]byte, bool) {
			_, _, gen := c.get(key)
			c.fill(key, []byte("v1"), gen)
			c.committed([]state.Write{{Namespace: "cc", Key: "k", Value: make([]byte, stateCacheMaxValue+1)}})
			return nil, false
		}},
		{"a large value is not filled", func(c *stateCache) ([]byte, bool) {
			_, _, gen := c.get(key)
			c.fill(key, make([]byte, stateCacheMaxValue+1), gen)
			return nil, false
		}},
		{"reset forgets and blocks fills begun before it", func(c *stateCache) ([]byte, bool) {
			_, _, gen := c.get(key)
			c.fill(key, []byte("v1"), gen)
			_, _, gen = c.get(key)
			c.reset()
			c.fill(key, []byte("v1"), gen)
			return nil, false
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := newStateCache()
			if err != nil {
				t.Fatal(err)
			}
			want, wantOK := tt.run(c)
			got, ok, _ := c.get(key)
			if ok != wantOK || !bytes.Equal(got, want) || (want == nil) != (got == nil) {
				t.Fatalf("get = %q, %v; want %q, %v", got, ok, want, wantOK)
			}
		})
	}
}

func TestStateCacheReturnsCopies(t *testing.T) {
	c, err := newStateCache()
	if err != nil {
		t.Fatal(err)
	}
	key := stateKey("cc", "k")
	v := []byte("value")
	_, _, gen := c.get(key)
	c.fill(key, v, gen)
	v[0] = 'X' // the filler's buffer
	got, _, _ := c.get(key)
	got[1] = 'Y' // a reader's copy
	if again, _, _ := c.get(key); string(again) != "value" {
		t.Fatalf("cached value changed to %q through a caller's slice", again)
	}
}
