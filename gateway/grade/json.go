package grade

import (
	"bytes"

	"github.com/medshare/medshare/abe/policy"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// kind is the JSON kind of a node.
type kind uint8

const (
	kNull kind = iota
	kBool
	kNumber
	kString
	kObject
	kArray
)

func (k kind) String() string {
	switch k {
	case kNull:
		return "null"
	case kBool:
		return "boolean"
	case kNumber:
		return "number"
	case kString:
		return "string"
	case kObject:
		return "object"
	case kArray:
		return "array"
	}
	return "?"
}

// node is one JSON value. Objects keep their keys in document order, numbers
// keep their literal text, so that a document can be written back exactly
// (compactly) as it came in.
type node struct {
	kind kind
	str  string // string value (decoded), or the number literal
	b    bool   // boolean value
	keys []string
	vals []*node // object values (parallel to keys) or array elements

	lvl  policy.Level        // grade of a leaf
	res  bool                // the object is a FHIR resource
	lost bool                // a resource that lost elements (output trees only)
	orig []int               // original indices of an assembled array's elements
	seen map[string]struct{} // keys of an object being assembled
}

// get returns the value of key k of an object, or nil.
func (n *node) get(k string) *node {
	for i, kk := range n.keys {
		if kk == k {
			return n.vals[i]
		}
	}
	return nil
}

// isLeaf reports whether n is a graded element: a primitive, null, or an
// empty object or array.
func (n *node) isLeaf() bool {
	return n.kind < kObject || len(n.vals) == 0
}

// parseLimits bound what the parser accepts.
type parseLimits struct {
	maxDepth int
	maxNodes int
}

// parseError is a syntax or limit error at a byte offset.
type parseError struct {
	off    int
	reason string
	limit  bool
}

// parser is a strict JSON parser (RFC 8259): UTF-8 only, no duplicate keys,
// finite numbers, bounded depth and node count.
type parser struct {
	data  []byte
	pos   int
	lim   parseLimits
	nodes int
	err   *parseError
	slab  []node // nodes are allocated in chunks: fewer, larger allocations
}

// parseJSON parses one JSON value filling the whole input.
func parseJSON(data []byte, lim parseLimits) (*node, *parseError) {
	p := &parser{data: data, lim: lim}
	p.skipWS()
	n := p.value(1)
	if p.err != nil {
		return nil, p.err
	}
	p.skipWS()
	if p.pos != len(p.data) {
		return nil, &parseError{off: p.pos, reason: "data after the top-level value"}
	}
	return n, nil
}

func (p *parser) fail(reason string) *node {
	if p.err == nil {
		p.err = &parseError{off: p.pos, reason: reason}
	}
	return nil
}

func (p *parser) failLimit(reason string) *node {
	if p.err == nil {
		p.err = &parseError{off: p.pos, reason: reason, limit: true}
	}
	return nil
}

func (p *parser) skipWS() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) newNode(k kind) *node {
	p.nodes++
	if p.nodes > p.lim.maxNodes {
		return p.failLimit("too many JSON values (limit " + strconv.Itoa(p.lim.maxNodes) + ")")
	}
	if len(p.slab) == 0 {
		p.slab = make([]node, 256)
	}
	n := &p.slab[0]
	p.slab = p.slab[1:]
	n.kind = k
	return n
}

func (p *parser) value(depth int) *node {
	if depth > p.lim.maxDepth {
		return p.failLimit("nested deeper than " + strconv.Itoa(p.lim.maxDepth))
	}
	if p.pos >= len(p.data) {
		return p.fail("unexpected end of input")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, ok := p.string()
		if !ok {
			return nil
		}
		n := p.newNode(kString)
		if n != nil {
			n.str = s
		}
		return n
	case c == 't':
		return p.literal("true", kBool, true)
	case c == 'f':
		return p.literal("false", kBool, false)
	case c == 'n':
		return p.literal("null", kNull, false)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return p.fail("unexpected character " + strconv.QuoteRune(rune(p.data[p.pos])))
}

func (p *parser) literal(lit string, k kind, b bool) *node {
	if !bytes.HasPrefix(p.data[p.pos:], []byte(lit)) {
		return p.fail("invalid literal")
	}
	p.pos += len(lit)
	n := p.newNode(k)
	if n != nil {
		n.b = b
	}
	return n
}

func (p *parser) number() *node {
	start := p.pos
	d := p.data
	i := p.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		p.pos = i
		return p.fail("invalid number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j {
			p.pos = i
			return p.fail("invalid number")
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		if i == j {
			p.pos = i
			return p.fail("invalid number")
		}
	}
	lit := string(d[start:i])
	if f, err := strconv.ParseFloat(lit, 64); err != nil || math.IsInf(f, 0) {
		return p.fail("number out of range")
	}
	p.pos = i
	n := p.newNode(kNumber)
	if n != nil {
		n.str = lit
	}
	return n
}

// string parses a JSON string at p.pos (which holds '"').
func (p *parser) string() (string, bool) {
	d := p.data
	p.pos++
	start := p.pos
	// Fast path: no escapes.
	for p.pos < len(d) {
		c := d[p.pos]
		if c == '"' {
			s := d[start:p.pos]
			if !utf8.Valid(s) {
				p.fail("string is not valid UTF-8")
				return "", false
			}
			p.pos++
			return string(s), true
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			p.fail("control character in string")
			return "", false
		}
		p.pos++
	}
	buf := make([]byte, 0, p.pos-start+16)
	buf = append(buf, d[start:p.pos]...)
	for p.pos < len(d) {
		c := d[p.pos]
		switch {
		case c == '"':
			if !utf8.Valid(buf) {
				p.fail("string is not valid UTF-8")
				return "", false
			}
			p.pos++
			return string(buf), true
		case c < 0x20:
			p.fail("control character in string")
			return "", false
		case c != '\\':
			buf = append(buf, c)
			p.pos++
			continue
		}
		p.pos++
		if p.pos >= len(d) {
			break
		}
		e := d[p.pos]
		p.pos++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", false
			}
			if utf16.IsSurrogate(r) {
				// A surrogate must be a high one followed by an escaped low one.
				if r >= 0xDC00 || p.pos+1 >= len(d) || d[p.pos] != '\\' || d[p.pos+1] != 'u' {
					p.fail("unpaired surrogate in string")
					return "", false
				}
				p.pos += 2
				r2, ok := p.hex4()
				if !ok {
					return "", false
				}
				r = utf16.DecodeRune(r, r2)
				if r == utf8.RuneError {
					p.fail("unpaired surrogate in string")
					return "", false
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			p.fail("invalid escape in string")
			return "", false
		}
	}
	p.fail("unterminated string")
	return "", false
}

func (p *parser) hex4() (rune, bool) {
	if p.pos+4 > len(p.data) {
		p.fail("invalid \\u escape")
		return 0, false
	}
	var r rune
	for _, c := range p.data[p.pos : p.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			p.fail("invalid \\u escape")
			return 0, false
		}
	}
	p.pos += 4
	return r, true
}

func (p *parser) object(depth int) *node {
	n := p.newNode(kObject)
	if n == nil {
		return nil
	}
	p.pos++ // '{'
	p.skipWS()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return n
	}
	var seen map[string]struct{}
	for {
		p.skipWS()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return p.fail("expected a string key")
		}
		k, ok := p.string()
		if !ok {
			return nil
		}
		// Duplicate keys are ambiguous (parsers disagree on which wins): refuse.
		if len(n.keys) < 8 {
			for _, kk := range n.keys {
				if kk == k {
					return p.fail("duplicate key " + strconv.Quote(k))
				}
			}
		} else {
			if seen == nil {
				seen = make(map[string]struct{}, 16)
				for _, kk := range n.keys {
					seen[kk] = struct{}{}
				}
			}
			if _, dup := seen[k]; dup {
				return p.fail("duplicate key " + strconv.Quote(k))
			}
			seen[k] = struct{}{}
		}
		p.skipWS()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return p.fail("expected ':'")
		}
		p.pos++
		p.skipWS()
		v := p.value(depth + 1)
		if v == nil {
			return nil
		}
		n.keys = append(n.keys, k)
		n.vals = append(n.vals, v)
		if more, ok := p.sep('}'); !ok {
			return nil
		} else if !more {
			return n
		}
	}
}

// sep reads what follows a member of an object or array: ',' (more
// members) or the closing bracket.
func (p *parser) sep(close byte) (more, ok bool) {
	p.skipWS()
	if p.pos >= len(p.data) {
		p.fail("unexpected end of input")
		return false, false
	}
	switch p.data[p.pos] {
	case ',':
		p.pos++
		return true, true
	case close:
		p.pos++
		return false, true
	}
	p.fail("expected ',' or '" + string(close) + "'")
	return false, false
}

func (p *parser) array(depth int) *node {
	n := p.newNode(kArray)
	if n == nil {
		return nil
	}
	p.pos++ // '['
	p.skipWS()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return n
	}
	for {
		p.skipWS()
		v := p.value(depth + 1)
		if v == nil {
			return nil
		}
		n.vals = append(n.vals, v)
		if more, ok := p.sep(']'); !ok {
			return nil
		} else if !more {
			return n
		}
	}
}

// appendJSON writes n compactly. Strings are escaped canonically (only '"',
// '\\' and control characters), numbers are written as their literal.
func appendJSON(buf []byte, n *node) []byte {
	switch n.kind {
	case kNull:
		return append(buf, "null"...)
	case kBool:
		if n.b {
			return append(buf, "true"...)
		}
		return append(buf, "false"...)
	case kNumber:
		return append(buf, n.str...)
	case kString:
		return appendString(buf, n.str)
	case kObject:
		buf = append(buf, '{')
		for i, k := range n.keys {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendString(buf, k)
			buf = append(buf, ':')
			buf = appendJSON(buf, n.vals[i])
		}
		return append(buf, '}')
	case kArray:
		buf = append(buf, '[')
		for i, v := range n.vals {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSON(buf, v)
		}
		return append(buf, ']')
	}
	return buf
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string. s is valid UTF-8 (the parser
// guarantees it).
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		buf = append(buf, s[start:i]...)
		switch c {
		case '"':
			buf = append(buf, '\\', '"')
		case '\\':
			buf = append(buf, '\\', '\\')
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		default:
			buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		start = i + 1
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
