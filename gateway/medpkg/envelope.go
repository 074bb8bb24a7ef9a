package medpkg

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/cloudflare/circl/hpke"
)

// The envelope: a sealed package, in one canonical binary encoding.
//
//	magic      "MSPK"                          4 bytes
//	version    1                               1 byte
//	kem, kdf, aead                             2 bytes each, big-endian (RFC 9180 ids)
//	requestID  length (1 byte, 1..128), bytes  [A-Za-z0-9._:-]
//	dataID     length (1 byte, 1..128), bytes  [A-Za-z0-9._:-]
//	recipient  16 bytes                        PublicKey.ID of the key sealed to
//	enc        length (2 bytes), bytes         the KEM encapsulation (its exact size)
//	ciphertext length (4 bytes), bytes         AEAD ciphertext (≥ 16 bytes) to the end
//
// Everything before the ciphertext length is the header: the AEAD's
// associated data. A decoder accepts exactly this form and nothing after
// the ciphertext, so an envelope has one encoding and one hash.

const (
	envelopeMagic   = "MSPK"
	envelopeVersion = 1
	// MaxCiphertext bounds the ciphertext a decoder accepts (64 MiB).
	MaxCiphertext = 64 << 20
	maxEnc        = 4096
	aeadOverhead  = 16
)

// Envelope is a decoded sealed package.
type Envelope struct {
	Version   uint8
	Suite     Suite
	RequestID string
	DataID    string
	Recipient [16]byte
	Enc       []byte
	// Ciphertext is the AEAD ciphertext of the package's JSON.
	Ciphertext []byte

	headerLen int
	raw       []byte
}

// Hash is SHA-256 of the envelope's bytes: the package hash the
// provenance contract records and reports are bound to.
func (e *Envelope) Hash() [32]byte { return sha256.Sum256(e.raw) }

// Bytes returns the envelope's encoding.
func (e *Envelope) Bytes() []byte { return append([]byte(nil), e.raw...) }

// header returns the associated data.
func (e *Envelope) header() []byte { return e.raw[:e.headerLen] }

func appendHeader(b []byte, s Suite, requestID, dataID string, recipient [16]byte, enc []byte) []byte {
	b = append(b, envelopeMagic...)
	b = append(b, envelopeVersion)
	b = binary.BigEndian.AppendUint16(b, uint16(s.KEM))
	b = binary.BigEndian.AppendUint16(b, uint16(s.KDF))
	b = binary.BigEndian.AppendUint16(b, uint16(s.AEAD))
	b = append(b, byte(len(requestID)))
	b = append(b, requestID...)
	b = append(b, byte(len(dataID)))
	b = append(b, dataID...)
	b = append(b, recipient[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(enc)))
	return append(b, enc...)
}

// info is the HPKE info string: it binds the key schedule to the request
// and the data id.
func info(requestID, dataID string) []byte {
	b := []byte("medshare/package/v1")
	b = append(b, byte(len(requestID)))
	b = append(b, requestID...)
	b = append(b, byte(len(dataID)))
	return append(b, dataID...)
}

// ParseEnvelope decodes an envelope strictly: the magic, a known version
// and suite, ids of the right form, an encapsulation of the suite's size, a
// ciphertext of 16 bytes to MaxCiphertext, and nothing after it. It never
// panics and copies nothing it does not keep.
func ParseEnvelope(b []byte) (*Envelope, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, a...))
	}
	r := reader{b: b}
	if !bytes.Equal(r.next(4), []byte(envelopeMagic)) {
		return nil, bad("not a MeDShare package (magic)")
	}
	e := &Envelope{}
	v := r.next(1)
	if v == nil {
		return nil, bad("truncated")
	}
	if e.Version = v[0]; e.Version != envelopeVersion {
		return nil, fmt.Errorf("%w: envelope version %d", ErrUnsupported, e.Version)
	}
	ids := r.next(6)
	if ids == nil {
		return nil, bad("truncated")
	}
	e.Suite = Suite{hpke.KEM(binary.BigEndian.Uint16(ids)), hpke.KDF(binary.BigEndian.Uint16(ids[2:])), hpke.AEAD(binary.BigEndian.Uint16(ids[4:]))}
	if s, ok := suiteFor(e.Suite.KEM); !ok || s != e.Suite {
		return nil, fmt.Errorf("%w: suite kem 0x%04x kdf 0x%04x aead 0x%04x", ErrUnsupported, uint16(e.Suite.KEM), uint16(e.Suite.KDF), uint16(e.Suite.AEAD))
	}
	var ok bool
	if e.RequestID, ok = r.id(); !ok {
		return nil, bad("requestID")
	}
	if e.DataID, ok = r.id(); !ok {
		return nil, bad("dataID")
	}
	rec := r.next(16)
	if rec == nil {
		return nil, bad("truncated")
	}
	copy(e.Recipient[:], rec)
	n := r.uint16()
	if n < 0 || n != e.Suite.KEM.Scheme().CiphertextSize() || n > maxEnc {
		return nil, bad("encapsulation length")
	}
	if e.Enc = r.next(n); e.Enc == nil {
		return nil, bad("truncated")
	}
	e.headerLen = r.pos
	m := r.uint32()
	if m < aeadOverhead || m > MaxCiphertext {
		return nil, bad("ciphertext length")
	}
	if e.Ciphertext = r.next(m); e.Ciphertext == nil {
		return nil, bad("truncated")
	}
	if r.pos != len(b) {
		return nil, bad("%d bytes after the ciphertext", len(b)-r.pos)
	}
	e.raw = b
	return e, nil
}

type reader struct {
	b   []byte
	pos int
}

// next returns the next n bytes, or nil when fewer remain.
func (r *reader) next(n int) []byte {
	if n < 0 || len(r.b)-r.pos < n {
		return nil
	}
	out := r.b[r.pos : r.pos+n : r.pos+n]
	r.pos += n
	return out
}

func (r *reader) uint16() int {
	b := r.next(2)
	if b == nil {
		return -1
	}
	return int(binary.BigEndian.Uint16(b))
}

func (r *reader) uint32() int {
	b := r.next(4)
	if b == nil {
		return -1
	}
	return int(binary.BigEndian.Uint32(b))
}

func (r *reader) id() (string, bool) {
	l := r.next(1)
	if l == nil || l[0] == 0 || l[0] > MaxIDLen {
		return "", false
	}
	b := r.next(int(l[0]))
	if b == nil || !isID(string(b), false) {
		return "", false
	}
	return string(b), true
}
