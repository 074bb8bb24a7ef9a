package provenance

import (
	"strings"

	"github.com/medshare/medshare/chaincode/ccerr"
)

// The actions a usage contract governs and a client reports.
const (
	ActionRead      = "read"
	ActionWrite     = "write"
	ActionDelete    = "delete"
	ActionDuplicate = "duplicate"
	ActionMove      = "move"
	ActionCopy      = "copy"
	// ActionDecrypted is reported when the package is first opened. It is
	// always permitted and can never be ignored: it shows the client's
	// contract is running.
	ActionDecrypted = "decrypted"
)

// Actions lists every action in its fixed order: bit i of an action mask is
// Actions[i].
var Actions = []string{ActionRead, ActionWrite, ActionDelete, ActionDuplicate, ActionMove, ActionCopy, ActionDecrypted}

// Mask is a set of actions, bit i standing for Actions[i].
type Mask uint32

func actionBit(a string) (Mask, bool) {
	for i, x := range Actions {
		if x == a {
			return 1 << i, true
		}
	}
	return 0, false
}

// MaskOf returns the set of the named actions; unknown names are ignored
// (the chaincode refuses them before computing masks).
func MaskOf(actions []string) Mask {
	var m Mask
	for _, a := range actions {
		b, _ := actionBit(a)
		m |= b
	}
	return m
}

// Has reports whether the set contains action a.
func (m Mask) Has(a string) bool {
	b, ok := actionBit(a)
	return ok && m&b != 0
}

// Names lists the set's actions in the fixed order.
func (m Mask) Names() []string {
	out := []string{}
	for i, a := range Actions {
		if m&(1<<i) != 0 {
			out = append(out, a)
		}
	}
	return out
}

// parseActions checks a list of distinct known actions.
func parseActions(name string, actions []string, min int) (Mask, error) {
	if len(actions) < min || len(actions) > len(Actions) {
		return 0, ccerr.Invalid(name, "must list %d..%d distinct actions of %s", min, len(Actions), strings.Join(Actions, ", "))
	}
	var m Mask
	for _, a := range actions {
		b, ok := actionBit(a)
		if !ok {
			return 0, ccerr.Invalid(name, "unknown action %q; actions are %s", a, strings.Join(Actions, ", "))
		}
		if m&b != 0 {
			return 0, ccerr.Invalid(name, "lists %s twice", a)
		}
		m |= b
	}
	return m, nil
}
