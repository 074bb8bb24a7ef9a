package policy

import (
	"errors"
	"fmt"
	"strings"
)

// Level is a sensitivity level of a record's data. Levels are nested: the
// predicate of a level includes the predicates of all lower levels, so whoever
// may read High may also read Medium and Low.
type Level uint8

// The three sensitivity levels, lowest first.
const (
	Low Level = iota
	Medium
	High
)

// NumLevels is the number of sensitivity levels.
const NumLevels = 3

// Levels lists the sensitivity levels, lowest first.
var Levels = [NumLevels]Level{Low, Medium, High}

// ErrInvalidLevel is returned (wrapped) for a level that is not low, medium
// or high.
var ErrInvalidLevel = errors.New("policy: invalid level")

// String returns "low", "medium" or "high".
func (l Level) String() string {
	switch l {
	case Low:
		return "low"
	case Medium:
		return "medium"
	case High:
		return "high"
	}
	return fmt.Sprintf("Level(%d)", uint8(l))
}

// Valid reports whether l is Low, Medium or High.
func (l Level) Valid() bool { return l <= High }

// ParseLevel parses "low", "medium" or "high" (case-insensitive).
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(s) {
	case "low":
		return Low, nil
	case "medium":
		return Medium, nil
	case "high":
		return High, nil
	}
	return 0, fmt.Errorf("%w: %q (want low, medium or high)", ErrInvalidLevel, s)
}

// MarshalText implements [encoding.TextMarshaler].
func (l Level) MarshalText() ([]byte, error) {
	if !l.Valid() {
		return nil, fmt.Errorf("%w: %d", ErrInvalidLevel, uint8(l))
	}
	return []byte(l.String()), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler].
func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}
