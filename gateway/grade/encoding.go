package grade

import (
	"fmt"
	"strconv"

	"github.com/medshare/medshare/abe/policy"
)

// formatVersion is the "v" of a level plaintext.
const formatVersion = 1

// A level's plaintext is one compact JSON object (docs/grading.md):
//
//	{"v":1,"kind":"Bundle","level":"low",
//	 "res":[[mask,type,seg...],...],
//	 "el":[[dOrd,keep,seg...,value],...]}
//
// el lists the level's elements in document order. dOrd is the element's
// ordinal (its position among all the document's elements, all levels)
// minus the previous element's of this level (the first counts from -1);
// keep is how many leading path segments it shares with the previous element
// of this level; seg... are the remaining segments (a string is an object
// key, a number an array index in the original document); value is the
// element's JSON value. res lists every resource with at least one element
// in this level: the bit mask (1 low, 2 medium, 4 high) of the levels holding
// its elements, its resource type and its path, so that a reader knows which
// resources lost elements (and can name a resource whose resourceType sits
// in a level it did not open).

type resEntry struct {
	path  []pathSeg
	rtype string
	mask  uint8
}

type encoder struct {
	el       [policy.NumLevels][]byte
	prev     [policy.NumLevels][]pathSeg
	prevOrd  [policy.NumLevels]int
	path     []pathSeg
	ord      int
	res      []resEntry
	resTypes []string
	g        *Graded
}

func encodeLevels(t *tree, version string) *Graded {
	g := &Graded{Kind: t.kind, RulesVersion: version, ByType: map[string][policy.NumLevels]int{}, Defaulted: t.defaulted}
	e := &encoder{g: g}
	for l := range e.prevOrd {
		e.prevOrd[l] = -1
	}
	if !t.fhir {
		e.resTypes = append(e.resTypes, "json")
	}
	e.visit(t.root)
	var res [policy.NumLevels][]byte
	for _, r := range e.res {
		for l := 0; l < policy.NumLevels; l++ {
			if r.mask&(1<<l) == 0 {
				continue
			}
			b := res[l]
			if b != nil {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = strconv.AppendUint(b, uint64(r.mask), 10)
			b = append(b, ',')
			b = appendString(b, r.rtype)
			for _, p := range r.path {
				b = append(b, ',')
				b = appendSeg(b, p)
			}
			res[l] = append(b, ']')
		}
	}
	for l := 0; l < policy.NumLevels; l++ {
		if e.el[l] == nil {
			continue
		}
		b := make([]byte, 0, len(e.el[l])+len(res[l])+64)
		b = append(b, `{"v":`...)
		b = strconv.AppendInt(b, formatVersion, 10)
		b = append(b, `,"kind":`...)
		b = appendString(b, t.kind)
		b = append(b, `,"level":"`...)
		b = append(b, policy.Level(l).String()...)
		b = append(b, `","res":[`...)
		b = append(b, res[l]...)
		b = append(b, `],"el":[`...)
		b = append(b, e.el[l]...)
		b = append(b, "]}"...)
		g.Levels[l] = b
	}
	return g
}

func appendSeg(b []byte, p pathSeg) []byte {
	if p.key == "" {
		return strconv.AppendInt(b, int64(p.idx), 10)
	}
	return appendString(b, p.key)
}

// visit emits n's elements and returns the mask of levels under n.
func (e *encoder) visit(n *node) uint8 {
	ri := -1
	if n.res {
		ri = len(e.res)
		rt := n.get("resourceType").str
		e.res = append(e.res, resEntry{path: append([]pathSeg(nil), e.path...), rtype: rt})
		e.resTypes = append(e.resTypes, rt)
	}
	var mask uint8
	switch {
	case n.isLeaf():
		e.emit(n)
		mask = 1 << n.lvl
	case n.kind == kObject:
		for i, k := range n.keys {
			e.path = append(e.path, pathSeg{key: k})
			mask |= e.visit(n.vals[i])
			e.path = e.path[:len(e.path)-1]
		}
	default:
		for i, v := range n.vals {
			e.path = append(e.path, pathSeg{idx: i})
			mask |= e.visit(v)
			e.path = e.path[:len(e.path)-1]
		}
	}
	if ri >= 0 {
		e.res[ri].mask = mask
		e.resTypes = e.resTypes[:len(e.resTypes)-1]
	}
	return mask
}

func (e *encoder) emit(n *node) {
	l := n.lvl
	e.g.Counts[l]++
	rt := e.resTypes[len(e.resTypes)-1]
	c := e.g.ByType[rt]
	c[l]++
	e.g.ByType[rt] = c

	b := e.el[l]
	if b != nil {
		b = append(b, ',')
	} else {
		b = make([]byte, 0, 4096)
	}
	b = append(b, '[')
	b = strconv.AppendInt(b, int64(e.ord-e.prevOrd[l]), 10)
	prev := e.prev[l]
	keep := 0
	for keep < len(prev) && keep < len(e.path) && prev[keep] == e.path[keep] {
		keep++
	}
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(keep), 10)
	for _, p := range e.path[keep:] {
		b = append(b, ',')
		b = appendSeg(b, p)
	}
	b = append(b, ',')
	b = appendJSON(b, n)
	e.el[l] = append(b, ']')
	e.prev[l] = append(prev[:0], e.path...)
	e.prevOrd[l] = e.ord
	e.ord++
}

// levelElem is one decoded element.
type levelElem struct {
	ord   int
	path  []pathSeg
	value *node
}

// decodedLevel is one decoded level plaintext.
type decodedLevel struct {
	kind string
	res  []resEntry
	els  []levelElem
}

// maxIndex bounds array indices and ordinals in level plaintexts.
const maxIndex = 1 << 30

func decodeLevel(data []byte, want policy.Level, lim Limits) (*decodedLevel, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: level %s: %s", ErrInvalidLevels, want, fmt.Sprintf(format, args...))
	}
	if len(data) > lim.MaxBytes*2 {
		return nil, bad("%d bytes, over the limit", len(data))
	}
	root, perr := parseJSON(data, parseLimits{maxDepth: lim.MaxDepth + 4, maxNodes: lim.MaxValues * 4})
	if perr != nil {
		return nil, bad("byte %d: %s", perr.off, perr.reason)
	}
	if root.kind != kObject || len(root.keys) != 5 {
		return nil, bad("not a level object")
	}
	d := &decodedLevel{}
	for i, k := range root.keys {
		v := root.vals[i]
		switch k {
		case "v":
			if v.kind != kNumber || v.str != strconv.Itoa(formatVersion) {
				return nil, bad("unknown format version")
			}
		case "kind":
			if v.kind != kString || v.str == "" || len(v.str) > 64 {
				return nil, bad("invalid kind")
			}
			d.kind = v.str
		case "level":
			if v.kind != kString || v.str != want.String() {
				return nil, bad("holds level %q", truncate(v.str, 10))
			}
		case "res":
			if v.kind != kArray {
				return nil, bad("invalid res")
			}
			for _, r := range v.vals {
				if r.kind != kArray || len(r.vals) < 2 {
					return nil, bad("invalid resource entry")
				}
				m, ok := smallInt(r.vals[0], 1, 7)
				if !ok || m&(1<<want) == 0 {
					return nil, bad("invalid resource mask")
				}
				if rt := r.vals[1]; rt.kind != kString || rt.str == "" || len(rt.str) > 64 {
					return nil, bad("invalid resource type")
				}
				p, ok := segsOf(r.vals[2:])
				if !ok {
					return nil, bad("invalid resource path")
				}
				d.res = append(d.res, resEntry{path: p, rtype: r.vals[1].str, mask: uint8(m)})
			}
		case "el":
			if v.kind != kArray || len(v.vals) == 0 {
				return nil, bad("invalid el")
			}
			ord := -1
			var prev []pathSeg
			for _, x := range v.vals {
				if x.kind != kArray || len(x.vals) < 4 {
					return nil, bad("invalid element entry")
				}
				dOrd, ok1 := smallInt(x.vals[0], 1, maxIndex)
				keep, ok2 := smallInt(x.vals[1], 0, len(prev))
				segs, ok3 := segsOf(x.vals[2 : len(x.vals)-1])
				if !ok1 || !ok2 || !ok3 || ord+dOrd >= maxIndex || keep+len(segs) > lim.MaxDepth {
					return nil, bad("invalid element entry")
				}
				ord += dOrd
				path := make([]pathSeg, 0, keep+len(segs))
				path = append(append(path, prev[:keep]...), segs...)
				val := x.vals[len(x.vals)-1]
				if !val.isLeaf() {
					return nil, bad("element value is not a leaf")
				}
				d.els = append(d.els, levelElem{ord: ord, path: path, value: val})
				prev = path
			}
		default:
			return nil, bad("unknown key")
		}
	}
	if d.kind == "" || d.els == nil {
		return nil, bad("incomplete")
	}
	return d, nil
}

func smallInt(n *node, lo, hi int) (int, bool) {
	if n.kind != kNumber {
		return 0, false
	}
	v, ok := parseInt32(n.str)
	if !ok || v < int64(lo) || v > int64(hi) {
		return 0, false
	}
	return int(v), true
}

func segsOf(ns []*node) ([]pathSeg, bool) {
	out := make([]pathSeg, 0, len(ns))
	for _, n := range ns {
		switch n.kind {
		case kString:
			if n.str == "" {
				return nil, false
			}
			out = append(out, pathSeg{key: n.str})
		case kNumber:
			v, ok := smallInt(n, 0, maxIndex)
			if !ok {
				return nil, false
			}
			out = append(out, pathSeg{idx: v})
		default:
			return nil, false
		}
	}
	return out, true
}
