package policy

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/medshare/medshare/abe/tag"
)

// SyntaxError reports where and why a policy text is malformed.
type SyntaxError struct {
	Offset int    // byte offset of the offending token, from 0
	Line   int    // line, from 1
	Column int    // column in bytes, from 1
	Msg    string // what is wrong
}

// Error returns "policy: line L, column C: why".
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("policy: line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

type tokKind uint8

const (
	tEOF  tokKind = iota
	tWord         // [A-Za-z0-9_.-]+
	tHash         // '#' followed by a word
	tLParen
	tRParen
	tComma
	tSemi
	tColon
	tAndOp // &&
	tOrOp  // ||
	tEq    // = or ==
	tGe    // >=
	tGt    // >
	tLt    // <
	tLe    // <=
	tNe    // !=
	tBang  // !
)

type token struct {
	kind tokKind
	text string
	off  int
}

func isWordChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

type parser struct {
	src    string
	toks   []token
	pos    int
	depth  int
	leaves int
}

func (p *parser) errAt(off int, format string, args ...any) *SyntaxError {
	line, col := 1, 1
	for i := 0; i < off && i < len(p.src); i++ {
		if p.src[i] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return &SyntaxError{Offset: off, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) lex() error {
	s := p.src
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case isWordChar(c):
			j := i
			for j < len(s) && isWordChar(s[j]) {
				j++
			}
			p.toks = append(p.toks, token{tWord, s[i:j], i})
			i = j
			continue
		case c == '#':
			j := i + 1
			for j < len(s) && isWordChar(s[j]) {
				j++
			}
			p.toks = append(p.toks, token{tHash, s[i+1 : j], i})
			i = j
			continue
		}
		two := ""
		if i+1 < len(s) {
			two = s[i : i+2]
		}
		kind, n := tEOF, 1
		switch {
		case two == "&&":
			kind, n = tAndOp, 2
		case two == "||":
			kind, n = tOrOp, 2
		case two == "==":
			kind, n = tEq, 2
		case two == ">=":
			kind, n = tGe, 2
		case two == "<=":
			kind, n = tLe, 2
		case two == "!=":
			kind, n = tNe, 2
		case c == '=':
			kind = tEq
		case c == '>':
			kind = tGt
		case c == '<':
			kind = tLt
		case c == '!':
			kind = tBang
		case c == '(':
			kind = tLParen
		case c == ')':
			kind = tRParen
		case c == ',':
			kind = tComma
		case c == ';':
			kind = tSemi
		case c == ':':
			kind = tColon
		default:
			if c >= 0x80 {
				return p.errAt(i, "unexpected non-ASCII byte 0x%02x (policies are ASCII)", c)
			}
			return p.errAt(i, "unexpected character %q", c)
		}
		p.toks = append(p.toks, token{kind, s[i : i+n], i})
		i += n
	}
	p.toks = append(p.toks, token{tEOF, "", len(s)})
	return nil
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) peekAt(d int) token {
	if p.pos+d < len(p.toks) {
		return p.toks[p.pos+d]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func keyword(t token) string {
	if t.kind != tWord {
		return ""
	}
	switch w := strings.ToLower(t.text); w {
	case "and", "or", "of", "not":
		return w
	}
	return ""
}

func describe(t token) string {
	if t.kind == tEOF {
		return "end of input"
	}
	if t.kind == tHash {
		return fmt.Sprintf("%q", "#"+t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

func (p *parser) isAnd(t token) bool { return t.kind == tAndOp || keyword(t) == "and" }
func (p *parser) isOr(t token) bool  { return t.kind == tOrOp || keyword(t) == "or" }

// Parse parses a policy in the policy language:
//
//	expr       = term { ("or" | "||") term }
//	term       = factor { ("and" | "&&") factor }
//	factor     = "(" expr ")"
//	           | INT "of" "(" expr { "," expr } ")"     k-of-n threshold
//	           | NAME ("=" | "==") VALUE               unordered attribute
//	           | NAME (">=" | ">") INT                 ordered attribute, level comparison
//	           | "#" TAG                               an already hidden leaf
//
// "and" binds tighter than "or"; keywords are case-insensitive and reserved.
// NAME is [a-z][a-z0-9_]*, VALUE is [a-z0-9][a-z0-9_.-]*, both
// case-insensitive and stored lowercase; TAG is 32 lowercase hex characters.
// "name > 2" means "name >= 3". Policies are monotone: "not", "!", "!=", "<"
// and "<=" are rejected, because an attribute set can always be extended and a
// higher level always includes the lower ones.
//
// Errors are *SyntaxError values carrying the position and the reason.
func Parse(src string) (*Tree, error) {
	p, err := newParser(src)
	if err != nil {
		return nil, err
	}
	n, err := p.expr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t, "an operator (and, or) or the end of the policy")
	}
	return &Tree{n}, nil
}

func newParser(src string) (*parser, error) {
	p := &parser{src: src}
	if len(src) > MaxSourceLen {
		return nil, p.errAt(0, "policy is %d bytes, longer than %d", len(src), MaxSourceLen)
	}
	if err := p.lex(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *parser) unexpected(t token, want string) error {
	return p.errAt(t.off, "unexpected %s, expected %s", describe(t), want)
}

func (p *parser) expr() (*Node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > MaxDepth {
		return nil, p.errAt(p.peek().off, "nesting deeper than %d", MaxDepth)
	}
	first, err := p.term()
	if err != nil {
		return nil, err
	}
	terms := []*Node{first}
	for p.isOr(p.peek()) {
		p.next()
		t, err := p.term()
		if err != nil {
			return nil, err
		}
		terms = append(terms, t)
	}
	return p.gate(1, terms)
}

func (p *parser) term() (*Node, error) {
	first, err := p.factor()
	if err != nil {
		return nil, err
	}
	fs := []*Node{first}
	for p.isAnd(p.peek()) {
		p.next()
		f, err := p.factor()
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	return p.gate(len(fs), fs)
}

func (p *parser) gate(k int, cs []*Node) (*Node, error) {
	g := newGate(k, cs)
	if g.depth > MaxDepth {
		return nil, p.errAt(p.peek().off, "nesting deeper than %d", MaxDepth)
	}
	return g, nil
}

func (p *parser) factor() (*Node, error) {
	t := p.peek()
	switch t.kind {
	case tLParen:
		p.next()
		n, err := p.expr()
		if err != nil {
			return nil, err
		}
		if c := p.peek(); c.kind != tRParen {
			return nil, p.unexpected(c, fmt.Sprintf("')' to close the '(' at column %d", p.errAt(t.off, "").Column))
		}
		p.next()
		return n, nil
	case tHash:
		p.next()
		if _, err := tag.ParseTag(t.text); err != nil {
			return nil, p.errAt(t.off, "'#' must be followed by a tag of 32 lowercase hex characters, not %q", t.text)
		}
		return p.leaf(t, t.text)
	case tBang:
		return nil, p.errAt(t.off, "negation is not supported: policies are monotone")
	case tWord:
	case tEOF:
		return nil, p.errAt(t.off, "unexpected end of policy, expected a condition")
	default:
		return nil, p.unexpected(t, "a condition, '(' or a threshold such as \"2 of (...)\"")
	}
	switch keyword(t) {
	case "not":
		return nil, p.errAt(t.off, "negation is not supported: policies are monotone")
	case "":
	default:
		return nil, p.errAt(t.off, "unexpected keyword %q, expected a condition", t.text)
	}
	if t.text[0] >= '0' && t.text[0] <= '9' {
		return p.threshold()
	}
	return p.comparison()
}

func (p *parser) threshold() (*Node, error) {
	kt := p.next()
	k, err := strconv.Atoi(kt.text)
	if err != nil || k > MaxLeaves {
		return nil, p.errAt(kt.off, "threshold %q is not a number from 1 to %d", kt.text, MaxLeaves)
	}
	if k < 1 {
		return nil, p.errAt(kt.off, "threshold must be at least 1")
	}
	if of := p.peek(); keyword(of) != "of" {
		return nil, p.unexpected(of, fmt.Sprintf("\"of\" after the threshold %d (attribute names start with a letter)", k))
	}
	p.next()
	lp := p.peek()
	if lp.kind != tLParen {
		return nil, p.unexpected(lp, "'(' to open the threshold's list")
	}
	p.next()
	var cs []*Node
	for {
		p.depth++
		n, err := p.expr()
		p.depth--
		if err != nil {
			return nil, err
		}
		cs = append(cs, n)
		t := p.next()
		if t.kind == tRParen {
			break
		}
		if t.kind != tComma {
			return nil, p.unexpected(t, fmt.Sprintf("',' or ')' in the threshold list opened at column %d", p.errAt(lp.off, "").Column))
		}
	}
	if k > len(cs) {
		return nil, p.errAt(kt.off, "threshold %d exceeds the %d conditions listed", k, len(cs))
	}
	return p.gate(k, cs)
}

func (p *parser) comparison() (*Node, error) {
	nt := p.next()
	name := strings.ToLower(nt.text)
	if _, err := tag.Eq(name, "x"); err != nil {
		return nil, p.errAt(nt.off, "invalid attribute name %q: names are a letter followed by letters, digits or '_', at most %d bytes", nt.text, tag.MaxNameLen)
	}
	op := p.next()
	switch op.kind {
	case tEq:
		vt := p.next()
		if vt.kind != tWord {
			return nil, p.unexpected(vt, fmt.Sprintf("a value after '%s'", op.text))
		}
		if kw := keyword(vt); kw != "" {
			return nil, p.errAt(vt.off, "keyword %q cannot be a value", vt.text)
		}
		s, err := tag.Eq(name, vt.text)
		if err != nil {
			return nil, p.errAt(vt.off, "invalid value %q: values are letters or digits followed by letters, digits, '_', '.' or '-', at most %d bytes", vt.text, tag.MaxValueLen)
		}
		return p.leaf(nt, s)
	case tGe, tGt:
		vt := p.next()
		if vt.kind != tWord {
			return nil, p.unexpected(vt, fmt.Sprintf("a level after '%s'", op.text))
		}
		lv, err := strconv.Atoi(vt.text)
		if err != nil || vt.text[0] == '+' || vt.text[0] == '-' {
			return nil, p.errAt(vt.off, "level %q is not a number", vt.text)
		}
		if op.kind == tGt {
			if lv >= tag.MaxLevel {
				return nil, p.errAt(vt.off, "level must be below %d for '>'", tag.MaxLevel)
			}
			lv++
		}
		if lv < 1 {
			return nil, p.errAt(vt.off, "levels start at 1; \"%s %s %s\" would hold for everybody", nt.text, op.text, vt.text)
		}
		s, err := tag.AtLeast(name, lv)
		if err != nil {
			return nil, p.errAt(vt.off, "level %d is above the largest level %d", lv, tag.MaxLevel)
		}
		return p.leaf(nt, s)
	case tLt, tLe:
		return nil, p.errAt(op.off, "'%s' is not supported: policies are monotone and a higher level includes the lower ones; use '>=' or '>'", op.text)
	case tNe:
		return nil, p.errAt(op.off, "'!=' is not supported: policies are monotone")
	default:
		return nil, p.unexpected(op, fmt.Sprintf("'=', '>=' or '>' after the attribute name %q", nt.text))
	}
}

func (p *parser) leaf(at token, s string) (*Node, error) {
	p.leaves++
	if p.leaves > MaxLeaves {
		return nil, p.errAt(at.off, "more than %d conditions", MaxLeaves)
	}
	return newLeaf(s), nil
}
