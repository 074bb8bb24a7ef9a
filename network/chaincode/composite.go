package chaincode

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Composite keys use Fabric's encoding: 0x00, the object type, then each
// attribute, each followed by 0x00. Keys of this form sort before all simple
// keys and never collide with them.
const (
	compositeKeyNamespace = "\x00"
	compositeSep          = "\x00"
	// maxRuneString bounds partial composite key ranges from above.
	maxRuneString = string(utf8.MaxRune)
	// emptyKeySubstitute replaces an empty range start so that simple-key
	// ranges skip composite keys.
	emptyKeySubstitute = "\x01"
)

func validateCompositePart(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %+q is not valid UTF-8", ErrInvalidKey, s)
	}
	for _, r := range s {
		if r == 0 || r == utf8.MaxRune {
			return fmt.Errorf("%w: %+q contains U+%04X, reserved for composite keys", ErrInvalidKey, s, r)
		}
	}
	return nil
}

// CreateCompositeKey joins an object type and attributes into one key, as the
// stub method does; it is exported for code that builds keys outside a
// transaction (tests, clients computing keys).
func CreateCompositeKey(objectType string, attributes []string) (string, error) {
	if objectType == "" {
		return "", fmt.Errorf("%w: empty object type", ErrInvalidKey)
	}
	if err := validateCompositePart(objectType); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(compositeKeyNamespace)
	b.WriteString(objectType)
	b.WriteString(compositeSep)
	for _, a := range attributes {
		if err := validateCompositePart(a); err != nil {
			return "", err
		}
		b.WriteString(a)
		b.WriteString(compositeSep)
	}
	return b.String(), nil
}

// SplitCompositeKey splits a composite key into its object type and
// attributes.
func SplitCompositeKey(key string) (string, []string, error) {
	if !strings.HasPrefix(key, compositeKeyNamespace) || !strings.HasSuffix(key, compositeSep) || len(key) < 2 {
		return "", nil, fmt.Errorf("%w: %+q is not a composite key", ErrInvalidKey, key)
	}
	parts := strings.Split(key[1:len(key)-1], compositeSep)
	return parts[0], parts[1:], nil
}

// validateSimpleKey checks a key passed to GetState, PutState or DelState.
func validateKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	case len(key) > MaxKeyLen:
		return fmt.Errorf("%w: key of %d bytes exceeds %d", ErrInvalidKey, len(key), MaxKeyLen)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: %+q is not valid UTF-8", ErrInvalidKey, key)
	}
	return nil
}

// validateRangeKey checks a simple-key range bound.
func validateRangeKey(key string) error {
	if key == "" {
		return nil
	}
	if strings.HasPrefix(key, compositeKeyNamespace) {
		return fmt.Errorf("%w: range bound %+q starts with the composite-key prefix", ErrInvalidKey, key)
	}
	return validateKey(key)
}
