package tag

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Limits of the canonical attribute syntax.
const (
	// MaxNameLen is the longest attribute name.
	MaxNameLen = 32
	// MaxValueLen is the longest value of an unordered attribute.
	MaxValueLen = 64
	// MaxLevel is the highest level any ordered attribute may declare.
	MaxLevel = 64
	// MaxAttrLen is the longest canonical attribute string.
	MaxAttrLen = MaxNameLen + 1 + MaxValueLen
)

// EpochName is the reserved name of the epoch attribute. Every user key
// carries "epoch=<n>" for the epoch it was issued in, and every record policy
// requires the epoch it was encrypted in; rotating the epoch therefore cuts
// off everybody whose key was not re-issued (revocation going forward).
const EpochName = "epoch"

var (
	// ErrInvalidAttribute is returned (wrapped) for attribute strings, names,
	// values or levels that are not canonical or out of range.
	ErrInvalidAttribute = errors.New("tag: invalid attribute")
	// ErrUnknownAttribute is returned (wrapped) when an attribute name is not
	// declared in the schema.
	ErrUnknownAttribute = errors.New("tag: unknown attribute")
)

// Condition is a parsed canonical attribute string, which is both what a user
// holds and what a policy leaf requires:
//
//	name=value     an unordered attribute (MinLevel == 0)
//	name>=level    an ordered attribute at level MinLevel or higher (MinLevel >= 1)
//
// Names match [a-z][a-z0-9_]* (at most 32 bytes); values match
// [a-z0-9][a-z0-9_.-]* (at most 64 bytes); levels are decimal without leading
// zeros, from 1 to MaxLevel.
type Condition struct {
	Name     string
	Value    string // unordered attributes only
	MinLevel int    // ordered attributes only; 0 for unordered
}

// String returns the canonical attribute string.
func (c Condition) String() string {
	if c.MinLevel > 0 {
		return c.Name + ">=" + strconv.Itoa(c.MinLevel)
	}
	return c.Name + "=" + c.Value
}

// ParseCondition parses a canonical attribute string. It accepts exactly the
// form produced by [Condition.String], [Eq] and [AtLeast].
func ParseCondition(s string) (Condition, error) {
	if len(s) > MaxAttrLen {
		return Condition{}, fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalidAttribute, len(s), MaxAttrLen)
	}
	if i := strings.Index(s, ">="); i >= 0 {
		name, lv := s[:i], s[i+2:]
		if err := checkName(name); err != nil {
			return Condition{}, err
		}
		n, err := parseLevel(lv)
		if err != nil {
			return Condition{}, err
		}
		return Condition{Name: name, MinLevel: n}, nil
	}
	i := strings.IndexByte(s, '=')
	if i < 0 {
		return Condition{}, fmt.Errorf("%w: %q has neither '=' nor '>='", ErrInvalidAttribute, s)
	}
	name, v := s[:i], s[i+1:]
	if err := checkName(name); err != nil {
		return Condition{}, err
	}
	if err := checkValue(v); err != nil {
		return Condition{}, err
	}
	return Condition{Name: name, Value: v}, nil
}

// Eq returns the canonical attribute string "name=value". ASCII letters are
// lowercased; anything else outside the canonical alphabet is an error.
func Eq(name, value string) (string, error) {
	name, value = strings.ToLower(name), strings.ToLower(value)
	if err := checkName(name); err != nil {
		return "", err
	}
	if err := checkValue(value); err != nil {
		return "", err
	}
	return name + "=" + value, nil
}

// AtLeast returns the canonical attribute string "name>=level" of an ordered
// attribute.
func AtLeast(name string, level int) (string, error) {
	name = strings.ToLower(name)
	if err := checkName(name); err != nil {
		return "", err
	}
	if level < 1 || level > MaxLevel {
		return "", fmt.Errorf("%w: level %d outside 1..%d", ErrInvalidAttribute, level, MaxLevel)
	}
	return name + ">=" + strconv.Itoa(level), nil
}

// Epoch returns the canonical epoch attribute "epoch=<e>".
func Epoch(e uint64) string { return EpochName + "=" + strconv.FormatUint(e, 10) }

func checkName(n string) error {
	if n == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidAttribute)
	}
	if len(n) > MaxNameLen {
		return fmt.Errorf("%w: name %q longer than %d bytes", ErrInvalidAttribute, n, MaxNameLen)
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		ok := c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '_')
		if !ok {
			return fmt.Errorf("%w: name %q: character %q at %d (names are [a-z][a-z0-9_]*)", ErrInvalidAttribute, n, c, i)
		}
	}
	return nil
}

func checkValue(v string) error {
	if v == "" {
		return fmt.Errorf("%w: empty value", ErrInvalidAttribute)
	}
	if len(v) > MaxValueLen {
		return fmt.Errorf("%w: value %q longer than %d bytes", ErrInvalidAttribute, v, MaxValueLen)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '_' || c == '.' || c == '-')
		if !ok {
			return fmt.Errorf("%w: value %q: character %q at %d (values are [a-z0-9][a-z0-9_.-]*)", ErrInvalidAttribute, v, c, i)
		}
	}
	return nil
}

func parseLevel(s string) (int, error) {
	if s == "" || len(s) > 2 || s[0] == '0' {
		return 0, fmt.Errorf("%w: level %q is not a decimal from 1 to %d without leading zeros", ErrInvalidAttribute, s, MaxLevel)
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: level %q is not decimal", ErrInvalidAttribute, s)
		}
		n = 10*n + int(s[i]-'0')
	}
	if n > MaxLevel {
		return 0, fmt.Errorf("%w: level %d above %d", ErrInvalidAttribute, n, MaxLevel)
	}
	return n, nil
}

// isCanonicalUint reports whether s is a decimal uint64 without leading zeros.
func isCanonicalUint(s string) bool {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return false
	}
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// Attribute is one attribute a user holds, as the attribute authority records
// it. For an ordered attribute Value is the decimal level ("3"); for an
// unordered one it is the value ("cardiology").
type Attribute struct {
	Name  string
	Value string
}

// Spec declares one attribute of a [Schema].
type Spec struct {
	// Name is the attribute name, [a-z][a-z0-9_]*.
	Name string
	// Ordered attributes have levels 1..Max and are compared with >=; a
	// higher level includes all lower ones.
	Ordered bool
	// Max is the highest level of an ordered attribute (1..MaxLevel).
	Max int
	// Values optionally restricts an unordered attribute to a fixed set of
	// values; empty means any canonical value.
	Values []string
}

// Schema says which attributes exist, which of them are ordered and their
// range. It is immutable once built and safe for concurrent use.
type Schema struct {
	specs map[string]Spec
	names []string
}

// NewSchema builds a schema from specs. The epoch attribute is always present
// and must not be declared.
func NewSchema(specs ...Spec) (*Schema, error) {
	s := &Schema{specs: make(map[string]Spec, len(specs))}
	for _, sp := range specs {
		if err := checkName(sp.Name); err != nil {
			return nil, err
		}
		if sp.Name == EpochName {
			return nil, fmt.Errorf("%w: %q is reserved", ErrInvalidAttribute, EpochName)
		}
		if _, dup := s.specs[sp.Name]; dup {
			return nil, fmt.Errorf("%w: %q declared twice", ErrInvalidAttribute, sp.Name)
		}
		if sp.Ordered {
			if sp.Max < 1 || sp.Max > MaxLevel {
				return nil, fmt.Errorf("%w: %q: maximum level %d outside 1..%d", ErrInvalidAttribute, sp.Name, sp.Max, MaxLevel)
			}
			if len(sp.Values) > 0 {
				return nil, fmt.Errorf("%w: %q: an ordered attribute has levels, not values", ErrInvalidAttribute, sp.Name)
			}
		} else {
			if sp.Max != 0 {
				return nil, fmt.Errorf("%w: %q: Max is only for ordered attributes", ErrInvalidAttribute, sp.Name)
			}
			vals := slices.Clone(sp.Values)
			for _, v := range vals {
				if err := checkValue(v); err != nil {
					return nil, fmt.Errorf("%q: %w", sp.Name, err)
				}
			}
			slices.Sort(vals)
			if len(slices.Compact(slices.Clone(vals))) != len(vals) {
				return nil, fmt.Errorf("%w: %q: duplicate values", ErrInvalidAttribute, sp.Name)
			}
			sp.Values = vals
		}
		s.specs[sp.Name] = sp
		s.names = append(s.names, sp.Name)
	}
	slices.Sort(s.names)
	return s, nil
}

// DefaultSchema is the schema of the paper: identity level 1..3, trust level
// 1..3 (both ordered, higher including lower), and the unordered attributes
// specialty, role and org.
func DefaultSchema() *Schema {
	s, err := NewSchema(
		Spec{Name: "identity", Ordered: true, Max: 3},
		Spec{Name: "trust", Ordered: true, Max: 3},
		Spec{Name: "specialty"},
		Spec{Name: "role"},
		Spec{Name: "org"},
	)
	if err != nil {
		// The literal above is valid; this cannot happen.
		return &Schema{specs: map[string]Spec{}}
	}
	return s
}

// Spec returns the declaration of name.
func (s *Schema) Spec(name string) (Spec, bool) {
	sp, ok := s.specs[name]
	sp.Values = slices.Clone(sp.Values)
	return sp, ok
}

// Names returns the declared attribute names in order (without epoch).
func (s *Schema) Names() []string { return slices.Clone(s.names) }

// Expand returns the sorted canonical attribute strings a user with attrs
// holds: one "name=value" per unordered attribute, and "name>=1" …
// "name>=level" for each ordered attribute. An ordered attribute may be given
// once; unordered attributes may repeat with different values. The epoch is
// not a user attribute: the authority adds it with [Epoch].
func (s *Schema) Expand(attrs ...Attribute) ([]string, error) {
	var out []string
	seenOrdered := map[string]bool{}
	for _, a := range attrs {
		name := strings.ToLower(a.Name)
		if name == EpochName {
			return nil, fmt.Errorf("%w: %q is set by the authority, not listed as a user attribute", ErrInvalidAttribute, EpochName)
		}
		sp, ok := s.specs[name]
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrUnknownAttribute, a.Name)
		}
		if sp.Ordered {
			if seenOrdered[name] {
				return nil, fmt.Errorf("%w: ordered attribute %q given twice", ErrInvalidAttribute, name)
			}
			seenOrdered[name] = true
			lv, err := parseLevel(a.Value)
			if err != nil {
				return nil, fmt.Errorf("%q: %w", name, err)
			}
			if lv > sp.Max {
				return nil, fmt.Errorf("%w: %q level %d above the schema maximum %d", ErrInvalidAttribute, name, lv, sp.Max)
			}
			for i := 1; i <= lv; i++ {
				out = append(out, name+">="+strconv.Itoa(i))
			}
			continue
		}
		c, err := Eq(name, a.Value)
		if err != nil {
			return nil, err
		}
		if len(sp.Values) > 0 {
			if _, found := slices.BinarySearch(sp.Values, c[len(name)+1:]); !found {
				return nil, fmt.Errorf("%w: %q is not an allowed value of %q", ErrInvalidAttribute, a.Value, name)
			}
		}
		out = append(out, c)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Check reports whether the canonical attribute string leaf is a valid policy
// leaf under the schema: the attribute is declared (or is the epoch), ordered
// attributes are compared with >= within their range, and unordered ones are
// compared with = against an allowed value.
func (s *Schema) Check(leaf string) error {
	c, err := ParseCondition(leaf)
	if err != nil {
		return err
	}
	if c.Name == EpochName {
		if c.MinLevel != 0 || !isCanonicalUint(c.Value) {
			return fmt.Errorf("%w: %q: the epoch is compared with = against a decimal number", ErrInvalidAttribute, leaf)
		}
		return nil
	}
	sp, ok := s.specs[c.Name]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownAttribute, c.Name)
	}
	switch {
	case sp.Ordered && c.MinLevel == 0:
		return fmt.Errorf("%w: %q is ordered (levels 1..%d); compare it with >=, not =", ErrInvalidAttribute, c.Name, sp.Max)
	case sp.Ordered && c.MinLevel > sp.Max:
		return fmt.Errorf("%w: %q has levels 1..%d; %d is out of range", ErrInvalidAttribute, c.Name, sp.Max, c.MinLevel)
	case !sp.Ordered && c.MinLevel > 0:
		return fmt.Errorf("%w: %q is unordered; compare it with =, not >=", ErrInvalidAttribute, c.Name)
	case !sp.Ordered && len(sp.Values) > 0:
		if _, found := slices.BinarySearch(sp.Values, c.Value); !found {
			return fmt.Errorf("%w: %q is not an allowed value of %q", ErrInvalidAttribute, c.Value, c.Name)
		}
	}
	return nil
}
