// Package enc builds the canonical binary encodings that medshare clients sign
// and that provenance blocks hash.
//
// An encoding starts with a domain string naming what it is (so a signature
// over one kind of message can never be taken for another) and continues with
// fields in a fixed order: byte strings and strings are prefixed with their
// length as a 4-byte big-endian integer, integers are 8-byte big-endian,
// times are their Unix time in nanoseconds as a signed 8-byte integer, and
// fixed-size hashes are written as they are. Because every variable field
// carries its length, two different field sequences of the same shape never
// encode to the same bytes.
package enc

import (
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// Buffer accumulates one canonical encoding. The zero value is empty; New
// starts it with a domain.
type Buffer struct{ b []byte }

// New starts an encoding with its domain string.
func New(domain string) *Buffer {
	e := &Buffer{b: make([]byte, 0, 256)}
	return e.String(domain)
}

// Bytes appends a length-prefixed byte string.
func (e *Buffer) Bytes(p []byte) *Buffer {
	e.b = binary.BigEndian.AppendUint32(e.b, uint32(len(p)))
	e.b = append(e.b, p...)
	return e
}

// String appends a length-prefixed string.
func (e *Buffer) String(s string) *Buffer {
	e.b = binary.BigEndian.AppendUint32(e.b, uint32(len(s)))
	e.b = append(e.b, s...)
	return e
}

// Strings appends a count (4 bytes) followed by each string length-prefixed.
func (e *Buffer) Strings(ss []string) *Buffer {
	e.b = binary.BigEndian.AppendUint32(e.b, uint32(len(ss)))
	for _, s := range ss {
		e.String(s)
	}
	return e
}

// Uint32 appends a 4-byte big-endian integer.
func (e *Buffer) Uint32(v uint32) *Buffer {
	e.b = binary.BigEndian.AppendUint32(e.b, v)
	return e
}

// Uint64 appends an 8-byte big-endian integer.
func (e *Buffer) Uint64(v uint64) *Buffer {
	e.b = binary.BigEndian.AppendUint64(e.b, v)
	return e
}

// Time appends t as Unix nanoseconds, a signed 8-byte big-endian integer.
func (e *Buffer) Time(t time.Time) *Buffer { return e.Uint64(uint64(t.UnixNano())) }

// Fixed appends p without a length prefix; use it only for fields whose size
// is fixed by the format (hashes).
func (e *Buffer) Fixed(p []byte) *Buffer {
	e.b = append(e.b, p...)
	return e
}

// Encoded returns the encoding so far. The caller must not modify it.
func (e *Buffer) Encoded() []byte { return e.b }

// Sum256 returns SHA-256 of the encoding: the digest clients sign.
func (e *Buffer) Sum256() [32]byte { return sha256.Sum256(e.b) }
