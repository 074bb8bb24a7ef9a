package medpkg

import "errors"

// Sentinel errors, for errors.Is. Each names a stage of opening or
// building a package.
var (
	// ErrInvalidPackage: a package's content breaks the format's rules
	// (Validate), on sealing or after decryption.
	ErrInvalidPackage = errors.New("medpkg: invalid package")
	// ErrMalformed: the bytes are not a well-formed envelope.
	ErrMalformed = errors.New("medpkg: malformed envelope")
	// ErrUnsupported: an envelope version or HPKE suite this build does not
	// open, or a key of another suite.
	ErrUnsupported = errors.New("medpkg: unsupported version or suite")
	// ErrInvalidKey: bytes that are not a package key.
	ErrInvalidKey = errors.New("medpkg: invalid package key")
	// ErrWrongKey: the envelope is sealed to another recipient key.
	ErrWrongKey = errors.New("medpkg: the package is sealed to another key")
	// ErrWrongRequest: the envelope answers another request.
	ErrWrongRequest = errors.New("medpkg: the package answers another request")
	// ErrTampered: the ciphertext or header does not authenticate: it was
	// altered, truncated or corrupted.
	ErrTampered = errors.New("medpkg: the package does not authenticate (altered or corrupted)")
	// ErrUnknownAction: an action outside read, write, delete, duplicate,
	// move, copy, decrypted.
	ErrUnknownAction = errors.New("medpkg: unknown action")
	// ErrExpired: the package's use period is over; the client refuses
	// further actions.
	ErrExpired = errors.New("medpkg: the package has expired")
	// ErrReportKey: the report key does not match the package's contract.
	ErrReportKey = errors.New("medpkg: the report key is not the package's")
)
