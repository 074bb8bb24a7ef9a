package ipfs

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	shell "github.com/ipfs/go-ipfs-api"
)

// Sentinel errors, for errors.Is.
var (
	// ErrUnavailable means kubo could not be reached or did not answer in
	// time: the request was not carried out (or its outcome is unknown).
	ErrUnavailable = errors.New("ipfs: kubo is unavailable")
	// ErrNotFound means the object is not in the local repository and no
	// peer of the swarm delivered it before the deadline.
	ErrNotFound = errors.New("ipfs: object not found")
	// ErrTooLarge means an object exceeds the client's maximum object size.
	ErrTooLarge = errors.New("ipfs: object too large")
	// ErrInvalidCID means an address is not a CID.
	ErrInvalidCID = errors.New("ipfs: invalid CID")
)

// kubo's messages for an object that is not pinned (pin rm, pin ls).
const (
	msgNotPinned         = "not pinned or pinned indirectly"
	msgPathIsNotPinnedSf = "is not pinned"
)

// classify turns a go-ipfs-api or transport error into the package's
// errors. fetching says whether the operation waits for blocks from the
// swarm (cat, pin), where a deadline means the object was not found.
func classify(ctx context.Context, op, cid string, err error, fetching bool) error {
	if err == nil {
		return nil
	}
	what := op
	if cid != "" {
		what += " " + cid
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		if fetching {
			return fmt.Errorf("%w: %s: %w", ErrNotFound, what, ctxErr)
		}
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, ctxErr)
	}
	var se *shell.Error
	if errors.As(err, &se) {
		return fmt.Errorf("ipfs: %s: %s", what, se.Message)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// The request did not get an answer: connection refused, reset,
		// or the daemon went away while answering.
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, ue.Err)
	}
	return fmt.Errorf("ipfs: %s: %w", what, err)
}

// isNotPinned reports whether kubo said the object is not pinned.
func isNotPinned(err error) bool {
	var se *shell.Error
	return errors.As(err, &se) && (strings.Contains(se.Message, msgNotPinned) || strings.HasSuffix(se.Message, msgPathIsNotPinnedSf))
}
