package state

import (
	"bytes"
	"slices"
	"sort"
)

// Overlay buffers writes over a base Reader. Reads see the buffered writes
// first (read-your-writes), then the base. The executor keeps one overlay per
// block, holding the writes of the block's valid transactions, and one per
// transaction on top of it; a failed transaction's overlay is dropped.
//
// An Overlay is not safe for concurrent use.
type Overlay struct {
	base Reader
	ns   map[string]*nsWrites
}

type entry struct {
	value  []byte
	delete bool
}

type nsWrites struct {
	m    map[string]entry
	keys []string // sorted
}

// NewOverlay returns an empty overlay over base.
func NewOverlay(base Reader) *Overlay {
	return &Overlay{base: base, ns: make(map[string]*nsWrites)}
}

func (o *Overlay) space(ns string) *nsWrites {
	w := o.ns[ns]
	if w == nil {
		w = &nsWrites{m: make(map[string]entry)}
		o.ns[ns] = w
	}
	return w
}

func (o *Overlay) set(ns, key string, e entry) {
	w := o.space(ns)
	if _, ok := w.m[key]; !ok {
		i, _ := slices.BinarySearch(w.keys, key)
		w.keys = slices.Insert(w.keys, i, key)
	}
	w.m[key] = e
}

// Put buffers a new value for key. The value is copied.
func (o *Overlay) Put(ns, key string, value []byte) {
	o.set(ns, key, entry{value: bytes.Clone(value)})
}

// Delete buffers the deletion of key.
func (o *Overlay) Delete(ns, key string) { o.set(ns, key, entry{delete: true}) }

// Apply buffers every write of ws, in order.
func (o *Overlay) Apply(ws []Write) {
	for _, w := range ws {
		if w.Delete {
			o.Delete(w.Namespace, w.Key)
		} else {
			o.Put(w.Namespace, w.Key, w.Value)
		}
	}
}

// Get returns the buffered value of key, or the base's.
func (o *Overlay) Get(ns, key string) ([]byte, error) {
	if w := o.ns[ns]; w != nil {
		if e, ok := w.m[key]; ok {
			if e.delete {
				return nil, nil
			}
			return e.value, nil
		}
	}
	return o.base.Get(ns, key)
}

// Writes returns the buffered writes sorted by namespace and key: the
// deterministic write set of a transaction or block.
func (o *Overlay) Writes() []Write {
	names := make([]string, 0, len(o.ns))
	for n := range o.ns {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []Write
	for _, n := range names {
		w := o.ns[n]
		for _, k := range w.keys {
			e := w.m[k]
			out = append(out, Write{Namespace: n, Key: k, Value: e.value, Delete: e.delete})
		}
	}
	return out
}

// Len is the number of buffered writes.
func (o *Overlay) Len() int {
	n := 0
	for _, w := range o.ns {
		n += len(w.keys)
	}
	return n
}

// Range merges the buffered writes in [start, end) with the base's range.
func (o *Overlay) Range(ns, start, end string) (Iterator, error) {
	base, err := o.base.Range(ns, start, end)
	if err != nil {
		return nil, err
	}
	w := o.ns[ns]
	if w == nil || len(w.keys) == 0 {
		return base, nil
	}
	lo, _ := slices.BinarySearch(w.keys, start)
	hi := len(w.keys)
	if end != "" {
		hi, _ = slices.BinarySearch(w.keys, end)
	}
	if lo >= hi {
		return base, nil
	}
	return &mergeIterator{base: base, w: w, keys: w.keys[lo:hi]}, nil
}

// mergeIterator yields the union of a base iterator and sorted overlay keys,
// the overlay winning on equal keys and hiding deleted ones.
type mergeIterator struct {
	base     Iterator
	w        *nsWrites
	keys     []string
	baseOK   bool
	started  bool
	cur      KV
	finished bool
}

func (it *mergeIterator) Next() bool {
	if it.finished {
		return false
	}
	if !it.started {
		it.started = true
		it.baseOK = it.base.Next()
	}
	for {
		var fromOverlay bool
		switch {
		case len(it.keys) == 0 && !it.baseOK:
			it.finished = true
			return false
		case len(it.keys) == 0:
			fromOverlay = false
		case !it.baseOK:
			fromOverlay = true
		default:
			bk := it.base.KV().Key
			ok := it.keys[0]
			if ok == bk {
				// The overlay shadows the base's entry.
				it.baseOK = it.base.Next()
			}
			fromOverlay = ok <= bk
		}
		if !fromOverlay {
			it.cur = it.base.KV()
			it.baseOK = it.base.Next()
			return true
		}
		k := it.keys[0]
		it.keys = it.keys[1:]
		if e := it.w.m[k]; !e.delete {
			it.cur = KV{Key: k, Value: e.value}
			return true
		}
	}
}

func (it *mergeIterator) KV() KV       { return it.cur }
func (it *mergeIterator) Err() error   { return it.base.Err() }
func (it *mergeIterator) Close() error { return it.base.Close() }
