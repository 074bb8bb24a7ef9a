// Package envelope is the storage format of a record's levels: what one
// side chain's Tx_sto holds as m (the wrapped keys) and what IPFS holds at
// the address u, for one sensitivity level of one version of a record.
//
// A record version is encrypted once with MSC-CP-ABE (package abe): one ABE
// header for the three nested levels and one AES-256-GCM sealed blob per
// level. Each level that holds data is then stored apart:
//
//	m_ℓ      = Keys{recordID, version, ℓ, gate_ℓ, ABE header}     on side chain ℓ (Tx_sto)
//	object_ℓ = AES-256-GCM(gate_ℓ, nonce, sealed_ℓ, AAD(recordID, version, ℓ))  in IPFS at u_ℓ
//	checkCode_ℓ = SHA-256(object_ℓ)
//
// gate_ℓ is a fresh random 256-bit key per record, version and level. It
// makes P-TL the gate of every level: the owner's gateway hands m_ℓ to a
// data user only after P-TL granted level ℓ, so a user granted the low
// level, who can fetch every object from IPFS and whose ABE key may also
// satisfy a higher level, still cannot open that level without passing
// P-TL's checks for it (windows, validity, rate, revocation). The gate key
// is not what keeps data confidential: m is readable by the side channel's
// node operators, and confidentiality rests on ABE, as docs/chaincode.md
// says of m.
//
// Encodings are versioned and parsed strictly (exact lengths, no trailing
// bytes, limits checked before allocation); parsers never panic.
package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/medshare/medshare/abe/policy"
)

// Sizes and limits.
const (
	// GateKeySize is the size of a level's gate key.
	GateKeySize = 32
	// MaxRecordIDLen bounds a record id (the chaincodes allow 128).
	MaxRecordIDLen = 128
	// MaxHeaderLen bounds the ABE header inside m (the storage chaincode
	// takes at most 64 KiB of m).
	MaxHeaderLen = 60 << 10
	// MaxObjectLen bounds one level's object.
	MaxObjectLen = 64<<20 + 1024
)

const (
	keysMagic   = "mGWK"
	objectMagic = "mGWO"
	formatV1    = 0x01
	nonceSize   = 12
	objectAAD   = "medshare/gateway/object/v1"
)

// Errors.
var (
	// ErrMalformed: an encoding is truncated, oversized, of an unknown
	// version, or has trailing bytes.
	ErrMalformed = errors.New("envelope: malformed encoding")
	// ErrAuthentication: an object does not open under the gate key and
	// binding it was given — it was altered, or belongs to another record,
	// version or level.
	ErrAuthentication = errors.New("envelope: object authentication failed")
)

// Binding is the record identifier bound into the ABE encryption of a
// version (abe.Scheme.Encrypt's recordID): the record id and the version, so
// a version's levels cannot be passed off as another version's.
func Binding(recordID string, version uint64) []byte {
	return []byte(recordID + "#v" + strconv.FormatUint(version, 10))
}

// Keys is m for one level of one version: the ABE header (the wrapped level
// keys of the whole version, abe.Ciphertext.MarshalHeader) and the level's
// gate key.
type Keys struct {
	RecordID string
	Version  uint64
	// Epoch is the attribute authority's epoch the version was encrypted
	// in (its policy requires keys of that epoch).
	Epoch  uint64
	Level  policy.Level
	Gate   [GateKeySize]byte
	Header []byte
}

// MarshalBinary encodes m:
//
//	"mGWK" 0x01 level:u8 version:u64 epoch:u64 len:u8 recordID gate[32] len:u32 header
func (k *Keys) MarshalBinary() ([]byte, error) {
	if err := checkID(k.RecordID); err != nil {
		return nil, err
	}
	if !k.Level.Valid() || k.Version == 0 || len(k.Header) == 0 || len(k.Header) > MaxHeaderLen {
		return nil, fmt.Errorf("%w: keys: level, version or header out of range", ErrMalformed)
	}
	b := make([]byte, 0, 4+1+1+8+8+1+len(k.RecordID)+GateKeySize+4+len(k.Header))
	b = append(b, keysMagic...)
	b = append(b, formatV1, byte(k.Level))
	b = binary.BigEndian.AppendUint64(b, k.Version)
	b = binary.BigEndian.AppendUint64(b, k.Epoch)
	b = append(b, byte(len(k.RecordID)))
	b = append(b, k.RecordID...)
	b = append(b, k.Gate[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(k.Header)))
	return append(b, k.Header...), nil
}

// ParseKeys decodes m.
func ParseKeys(b []byte) (*Keys, error) {
	r := reader{b: b}
	if string(r.take(4)) != keysMagic || r.u8() != formatV1 {
		return nil, fmt.Errorf("%w: keys: not a version-1 gateway keys envelope", ErrMalformed)
	}
	var k Keys
	k.Level = policy.Level(r.u8())
	k.Version = r.u64()
	k.Epoch = r.u64()
	k.RecordID = string(r.take(int(r.u8())))
	copy(k.Gate[:], r.take(GateKeySize))
	n := r.u32()
	if r.err == nil && n > MaxHeaderLen {
		return nil, fmt.Errorf("%w: keys: header of %d bytes", ErrMalformed, n)
	}
	k.Header = append([]byte(nil), r.take(int(n))...)
	if err := r.done(); err != nil {
		return nil, fmt.Errorf("%w: keys: %w", ErrMalformed, err)
	}
	if !k.Level.Valid() || k.Version == 0 || len(k.Header) == 0 || checkID(k.RecordID) != nil {
		return nil, fmt.Errorf("%w: keys: level, version, header or record id out of range", ErrMalformed)
	}
	return &k, nil
}

// NewGate draws a fresh gate key from rnd (crypto/rand when nil).
func NewGate(rnd io.Reader) ([GateKeySize]byte, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	var g [GateKeySize]byte
	if _, err := io.ReadFull(rnd, g[:]); err != nil {
		return g, fmt.Errorf("envelope: gate key: %w", err)
	}
	return g, nil
}

func aad(recordID string, version uint64, l policy.Level) []byte {
	b := append([]byte(objectAAD), 0)
	b = append(b, byte(len(recordID)))
	b = append(b, recordID...)
	b = binary.BigEndian.AppendUint64(b, version)
	return append(b, byte(l))
}

func gcm(gate *[GateKeySize]byte) (cipher.AEAD, error) {
	blk, err := aes.NewCipher(gate[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(blk)
}

// Seal returns the IPFS object of a level: the level's ABE-sealed data
// (abe.Ciphertext.Sealed) sealed again under its gate key, bound to the
// record id, version and level. Each gate key seals exactly one object; the
// nonce is random all the same.
//
//	"mGWO" 0x01 level:u8 nonce[12] AES-256-GCM(gate, nonce, sealed, AAD)
func Seal(rnd io.Reader, k *Keys, sealed []byte) ([]byte, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	if err := checkID(k.RecordID); err != nil {
		return nil, err
	}
	if !k.Level.Valid() || len(sealed) == 0 || len(sealed) > MaxObjectLen-64 {
		return nil, fmt.Errorf("%w: object: level or size out of range", ErrMalformed)
	}
	a, err := gcm(&k.Gate)
	if err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	b := make([]byte, 0, 6+nonceSize+len(sealed)+a.Overhead())
	b = append(b, objectMagic...)
	b = append(b, formatV1, byte(k.Level))
	nonce := make([]byte, nonceSize)
	if _, err := io.ReadFull(rnd, nonce); err != nil {
		return nil, fmt.Errorf("envelope: nonce: %w", err)
	}
	b = append(b, nonce...)
	return a.Seal(b, nonce, sealed, aad(k.RecordID, k.Version, k.Level)), nil
}

// Open returns the ABE-sealed data inside a level's object, checking that it
// was sealed under k's gate key for k's record, version and level.
func Open(k *Keys, object []byte) ([]byte, error) {
	if len(object) > MaxObjectLen {
		return nil, fmt.Errorf("%w: object of %d bytes", ErrMalformed, len(object))
	}
	if len(object) < 6+nonceSize+16 || string(object[:4]) != objectMagic || object[4] != formatV1 {
		return nil, fmt.Errorf("%w: not a version-1 gateway object", ErrMalformed)
	}
	if policy.Level(object[5]) != k.Level {
		return nil, fmt.Errorf("%w: the object is level %d, the keys level %s", ErrAuthentication, object[5], k.Level)
	}
	a, err := gcm(&k.Gate)
	if err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	nonce := object[6 : 6+nonceSize]
	out, err := a.Open(nil, nonce, object[6+nonceSize:], aad(k.RecordID, k.Version, k.Level))
	if err != nil {
		return nil, ErrAuthentication
	}
	return out, nil
}

func checkID(id string) error {
	if len(id) == 0 || len(id) > MaxRecordIDLen {
		return fmt.Errorf("%w: record id of %d bytes (1..%d)", ErrMalformed, len(id), MaxRecordIDLen)
	}
	return nil
}

// reader is a bounds-checked reader that records its first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = errors.New("truncated")
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8() byte {
	b := r.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) u32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (r *reader) u64() uint64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func (r *reader) done() error {
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%d trailing bytes", len(r.b))
	}
	return nil
}
