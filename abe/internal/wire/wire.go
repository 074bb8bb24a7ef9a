// Package wire holds the bounds-checked big-endian reader and the append
// helpers shared by every binary encoding under abe/. A Reader never panics:
// reading past the end sets a sticky error and returns zero values.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrTruncated is returned when the input ends before a field does.
var ErrTruncated = errors.New("truncated input")

// ErrTrailing is returned when bytes remain after the last field.
var ErrTrailing = errors.New("trailing bytes after the last field")

// Reader reads fields from a byte slice.
type Reader struct {
	b   []byte
	off int
	err error
}

// NewReader returns a reader over b. It does not copy b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err returns the first error encountered, if any.
func (r *Reader) Err() error { return r.err }

// Offset returns the number of bytes consumed so far.
func (r *Reader) Offset() int { return r.off }

// Remaining returns the number of unread bytes.
func (r *Reader) Remaining() int { return len(r.b) - r.off }

// Fail records err (with the current offset) unless an error is already set.
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = fmt.Errorf("at byte %d: %w", r.off, err)
	}
}

// Bytes returns the next n bytes (a sub-slice of the input, not a copy).
func (r *Reader) Bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.Fail(ErrTruncated)
		return nil
	}
	out := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return out
}

// U8 reads one byte.
func (r *Reader) U8() uint8 {
	b := r.Bytes(1)
	if b == nil {
		return 0
	}
	return b[0]
}

// U16 reads a big-endian uint16.
func (r *Reader) U16() uint16 {
	b := r.Bytes(2)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

// U32 reads a big-endian uint32.
func (r *Reader) U32() uint32 {
	b := r.Bytes(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

// U64 reads a big-endian uint64.
func (r *Reader) U64() uint64 {
	b := r.Bytes(8)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// VarBytes16 reads a uint16 length and that many bytes, failing if the
// length exceeds max.
func (r *Reader) VarBytes16(max int) []byte {
	n := int(r.U16())
	if r.err == nil && n > max {
		r.Fail(fmt.Errorf("length %d exceeds the limit %d", n, max))
		return nil
	}
	return r.Bytes(n)
}

// VarBytes32 reads a uint32 length and that many bytes, failing if the
// length exceeds max.
func (r *Reader) VarBytes32(max int) []byte {
	n := r.U32()
	if r.err == nil && uint64(n) > uint64(max) {
		r.Fail(fmt.Errorf("length %d exceeds the limit %d", n, max))
		return nil
	}
	return r.Bytes(int(n))
}

// Done returns the sticky error, or ErrTrailing if input remains.
func (r *Reader) Done() error {
	if r.err != nil {
		return r.err
	}
	if r.off != len(r.b) {
		return fmt.Errorf("at byte %d: %w (%d bytes)", r.off, ErrTrailing, len(r.b)-r.off)
	}
	return nil
}

// AppendU16 appends a big-endian uint16.
func AppendU16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }

// AppendU32 appends a big-endian uint32.
func AppendU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }

// AppendU64 appends a big-endian uint64.
func AppendU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// AppendVarBytes16 appends a uint16 length and p. The caller guarantees
// len(p) fits.
func AppendVarBytes16(b, p []byte) []byte { return append(AppendU16(b, uint16(len(p))), p...) }

// AppendVarBytes32 appends a uint32 length and p. The caller guarantees
// len(p) fits.
func AppendVarBytes32(b, p []byte) []byte { return append(AppendU32(b, uint32(len(p))), p...) }
