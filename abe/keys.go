package abe

import (
	"crypto/sha256"
	"fmt"

	"github.com/medshare/medshare/abe/internal/msc"
	"github.com/medshare/medshare/abe/internal/tknlevel"
	"github.com/medshare/medshare/abe/internal/wire"
	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
)

// schemeID identifies a scheme in encodings.
type schemeID byte

const (
	idMSC   schemeID = 1
	idTKN20 schemeID = 2
)

// String returns the scheme's configuration name.
func (s schemeID) String() string {
	switch s {
	case idMSC:
		return MSC
	case idTKN20:
		return TKN20
	}
	return fmt.Sprintf("scheme(%d)", byte(s))
}

// kind identifies the object in an encoding.
type kind byte

const (
	kindPublicKey  kind = 1
	kindMasterKey  kind = 2
	kindUserKey    kind = 3
	kindCiphertext kind = 4
	kindHeader     kind = 5
)

// Every encoding starts with this envelope:
//
//	magic "mABE" | version | kind | scheme | body
//
// The version is that of the kind's format: 1 for keys, 2 for ciphertexts
// and headers (version 1 ciphertexts used the nested msc construction,
// which is insecure, and are refused). The bodies are documented in the
// internal msc and tknlevel packages; the ciphertext body is
//
//	header_len:u32 header (sealed_len:u32 sealed){3}
//
// where header is the scheme's ABE header (hidden policy and group elements
// or tkn20 ciphertexts) and sealed is the AES-256-GCM output of each level.
const (
	magic = "mABE"
	// keyVersion is the format version of public, master and user keys.
	keyVersion = 0x01
	// ciphertextVersion is the format version of ciphertexts and headers.
	ciphertextVersion = 0x02
	envelopeLen       = len(magic) + 3
	gcmOverhead       = 16

	maxHeaderLen   = 16 << 20
	maxKeyBodyLen  = 8 << 20
	maxCiphertext  = envelopeLen + 4 + maxHeaderLen + 3*(4+MaxLevelDataLen+gcmOverhead)
	maxPublicKeyLn = 1 << 20
)

// version returns the current format version of kind k.
func (k kind) version() byte {
	if k == kindCiphertext || k == kindHeader {
		return ciphertextVersion
	}
	return keyVersion
}

func appendEnvelope(b []byte, k kind, s schemeID) []byte {
	b = append(b, magic...)
	return append(b, k.version(), byte(k), byte(s))
}

// openEnvelope checks the envelope and returns the scheme and the body.
func openEnvelope(b []byte, want kind, maxLen int) (schemeID, []byte, error) {
	if len(b) > maxLen {
		return 0, nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformed, len(b), maxLen)
	}
	if len(b) < envelopeLen || string(b[:len(magic)]) != magic {
		return 0, nil, fmt.Errorf("%w: not an abe encoding", ErrMalformed)
	}
	v, k, s := b[len(magic)], kind(b[len(magic)+1]), schemeID(b[len(magic)+2])
	if k != want {
		return 0, nil, fmt.Errorf("%w: object kind %d, want %d", ErrMalformed, k, want)
	}
	if v != k.version() {
		if v == 1 && (k == kindCiphertext || k == kindHeader) {
			return 0, nil, fmt.Errorf("%w: %w: ciphertext format version 1 is no longer read: its msc levels were nested and two keys could combine to open levels neither may open; re-encrypt the record (current version %d)", ErrMalformed, ErrUnsupportedVersion, ciphertextVersion)
		}
		return 0, nil, fmt.Errorf("%w: %w: format version %d, want %d", ErrMalformed, ErrUnsupportedVersion, v, k.version())
	}
	if s != idMSC && s != idTKN20 {
		return 0, nil, fmt.Errorf("%w: unknown scheme %d", ErrMalformed, s)
	}
	return s, b[envelopeLen:], nil
}

// PublicKey is the system public key of either scheme.
type PublicKey struct {
	scheme schemeID
	msc    *msc.PublicKey
	tkn    *tknlevel.PublicKey
}

// Scheme returns the name of the key's scheme.
func (pk *PublicKey) Scheme() string { return pk.scheme.String() }

// MarshalBinary encodes the public key.
func (pk *PublicKey) MarshalBinary() ([]byte, error) {
	var body []byte
	var err error
	switch pk.scheme {
	case idMSC:
		body, err = pk.msc.MarshalBinary()
	case idTKN20:
		body, err = pk.tkn.MarshalBinary()
	default:
		return nil, fmt.Errorf("%w: empty public key", ErrInvalidInput)
	}
	if err != nil {
		return nil, err
	}
	return append(appendEnvelope(nil, kindPublicKey, pk.scheme), body...), nil
}

// UnmarshalBinary decodes a public key, validating every group element.
func (pk *PublicKey) UnmarshalBinary(b []byte) error {
	s, body, err := openEnvelope(b, kindPublicKey, maxPublicKeyLn)
	if err != nil {
		return err
	}
	out := PublicKey{scheme: s}
	switch s {
	case idMSC:
		out.msc = new(msc.PublicKey)
		err = out.msc.UnmarshalBinary(body)
	case idTKN20:
		out.tkn = new(tknlevel.PublicKey)
		err = out.tkn.UnmarshalBinary(body)
	}
	if err != nil {
		return fmt.Errorf("%w: public key: %w", ErrMalformed, err)
	}
	*pk = out
	return nil
}

// ParsePublicKey decodes a public key.
func ParsePublicKey(b []byte) (*PublicKey, error) {
	pk := new(PublicKey)
	if err := pk.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return pk, nil
}

// Equal reports whether two public keys are equal.
func (pk *PublicKey) Equal(o *PublicKey) bool {
	if pk.scheme != o.scheme {
		return false
	}
	switch pk.scheme {
	case idMSC:
		return pk.msc.Equal(o.msc)
	case idTKN20:
		return pk.tkn.Equal(o.tkn)
	}
	return false
}

// MasterKey is the attribute authority's master key. Keep it secret.
type MasterKey struct {
	scheme schemeID
	msc    *msc.MasterKey
	tkn    *tknlevel.MasterKey
}

// Scheme returns the name of the key's scheme.
func (msk *MasterKey) Scheme() string { return msk.scheme.String() }

// MarshalBinary encodes the master key.
func (msk *MasterKey) MarshalBinary() ([]byte, error) {
	var body []byte
	var err error
	switch msk.scheme {
	case idMSC:
		body, err = msk.msc.MarshalBinary()
	case idTKN20:
		body, err = msk.tkn.MarshalBinary()
	default:
		return nil, fmt.Errorf("%w: empty master key", ErrInvalidInput)
	}
	if err != nil {
		return nil, err
	}
	return append(appendEnvelope(nil, kindMasterKey, msk.scheme), body...), nil
}

// UnmarshalBinary decodes a master key.
func (msk *MasterKey) UnmarshalBinary(b []byte) error {
	s, body, err := openEnvelope(b, kindMasterKey, maxPublicKeyLn)
	if err != nil {
		return err
	}
	out := MasterKey{scheme: s}
	switch s {
	case idMSC:
		out.msc = new(msc.MasterKey)
		err = out.msc.UnmarshalBinary(body)
	case idTKN20:
		out.tkn = new(tknlevel.MasterKey)
		err = out.tkn.UnmarshalBinary(body)
	}
	if err != nil {
		return fmt.Errorf("%w: master key: %w", ErrMalformed, err)
	}
	*msk = out
	return nil
}

// ParseMasterKey decodes a master key.
func ParseMasterKey(b []byte) (*MasterKey, error) {
	msk := new(MasterKey)
	if err := msk.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return msk, nil
}

// Equal reports whether two master keys are equal.
func (msk *MasterKey) Equal(o *MasterKey) bool {
	if msk.scheme != o.scheme {
		return false
	}
	switch msk.scheme {
	case idMSC:
		return msk.msc.Equal(o.msc)
	case idTKN20:
		return msk.tkn.Equal(o.tkn)
	}
	return false
}

// UserKey is a user's decryption key for a set of attribute tags. Keep it
// secret.
type UserKey struct {
	scheme schemeID
	msc    *msc.UserKey
	tkn    *tknlevel.UserKey
}

// Scheme returns the name of the key's scheme.
func (uk *UserKey) Scheme() string { return uk.scheme.String() }

// Tags returns the attribute tags the key was issued for, in ascending order.
func (uk *UserKey) Tags() []tag.Tag {
	switch uk.scheme {
	case idMSC:
		return uk.msc.Tags()
	case idTKN20:
		return uk.tkn.Tags()
	}
	return nil
}

// MarshalBinary encodes the user key.
func (uk *UserKey) MarshalBinary() ([]byte, error) {
	var body []byte
	var err error
	switch uk.scheme {
	case idMSC:
		body, err = uk.msc.MarshalBinary()
	case idTKN20:
		body, err = uk.tkn.MarshalBinary()
	default:
		return nil, fmt.Errorf("%w: empty user key", ErrInvalidInput)
	}
	if err != nil {
		return nil, err
	}
	return append(appendEnvelope(nil, kindUserKey, uk.scheme), body...), nil
}

// UnmarshalBinary decodes a user key, validating every group element.
func (uk *UserKey) UnmarshalBinary(b []byte) error {
	s, body, err := openEnvelope(b, kindUserKey, envelopeLen+maxKeyBodyLen)
	if err != nil {
		return err
	}
	out := UserKey{scheme: s}
	switch s {
	case idMSC:
		out.msc = new(msc.UserKey)
		err = out.msc.UnmarshalBinary(body)
	case idTKN20:
		out.tkn = new(tknlevel.UserKey)
		err = out.tkn.UnmarshalBinary(body)
	}
	if err != nil {
		return fmt.Errorf("%w: user key: %w", ErrMalformed, err)
	}
	*uk = out
	return nil
}

// ParseUserKey decodes a user key.
func ParseUserKey(b []byte) (*UserKey, error) {
	uk := new(UserKey)
	if err := uk.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return uk, nil
}

// Equal reports whether two user keys are equal.
func (uk *UserKey) Equal(o *UserKey) bool {
	if uk.scheme != o.scheme {
		return false
	}
	switch uk.scheme {
	case idMSC:
		return uk.msc.Equal(o.msc)
	case idTKN20:
		return uk.tkn.Equal(o.tkn)
	}
	return false
}

// Ciphertext is one encrypted record: the ABE header (hidden policy plus
// scheme data) and the three sealed levels. It is immutable.
type Ciphertext struct {
	scheme     schemeID
	header     []byte   // encoded scheme header
	headerHash [32]byte // SHA-256 of header, bound into every level key
	msc        *msc.Header
	tkn        *tknlevel.Header
	sealed     [policy.NumLevels][]byte
}

// Scheme returns the name of the ciphertext's scheme.
func (ct *Ciphertext) Scheme() string { return ct.scheme.String() }

// Policy returns the hidden record policy (tags only) the record was
// encrypted under; a reader uses it to choose which tags to disclose.
func (ct *Ciphertext) Policy() *policy.Record {
	switch ct.scheme {
	case idMSC:
		return ct.msc.Policy()
	case idTKN20:
		return ct.tkn.Policy()
	}
	return nil
}

// HeaderLen returns the size of the ABE header (everything but the sealed
// level data).
func (ct *Ciphertext) HeaderLen() int { return len(ct.header) }

// MarshalBinary encodes the ciphertext.
func (ct *Ciphertext) MarshalBinary() ([]byte, error) {
	if ct.scheme != idMSC && ct.scheme != idTKN20 {
		return nil, fmt.Errorf("%w: empty ciphertext", ErrInvalidInput)
	}
	n := envelopeLen + 4 + len(ct.header)
	for _, s := range ct.sealed {
		n += 4 + len(s)
	}
	b := make([]byte, 0, n)
	b = appendEnvelope(b, kindCiphertext, ct.scheme)
	b = wire.AppendVarBytes32(b, ct.header)
	for _, s := range ct.sealed {
		b = wire.AppendVarBytes32(b, s)
	}
	return b, nil
}

// UnmarshalBinary decodes a ciphertext. It validates the envelope, every
// length, the hidden policy and every group element (or tkn20 ciphertext),
// and copies what it keeps. Authentication of the sealed levels happens at
// decryption.
func (ct *Ciphertext) UnmarshalBinary(b []byte) error {
	s, body, err := openEnvelope(b, kindCiphertext, maxCiphertext)
	if err != nil {
		return err
	}
	r := wire.NewReader(body)
	hb := r.VarBytes32(maxHeaderLen)
	var sealed [policy.NumLevels][]byte
	for i := range sealed {
		sealed[i] = r.VarBytes32(MaxLevelDataLen + gcmOverhead)
		if r.Err() == nil && len(sealed[i]) < gcmOverhead {
			r.Fail(fmt.Errorf("level %s: %d sealed bytes, fewer than the GCM tag", policy.Level(i), len(sealed[i])))
		}
	}
	if err := r.Done(); err != nil {
		return fmt.Errorf("%w: ciphertext: %w", ErrMalformed, err)
	}
	out := Ciphertext{scheme: s, header: append([]byte(nil), hb...), headerHash: sha256.Sum256(hb)}
	switch s {
	case idMSC:
		out.msc, err = msc.UnmarshalHeader(out.header)
	case idTKN20:
		out.tkn, err = tknlevel.UnmarshalHeader(out.header)
	}
	if err != nil {
		return fmt.Errorf("%w: ciphertext header: %w", ErrMalformed, err)
	}
	for i := range sealed {
		out.sealed[i] = append([]byte(nil), sealed[i]...)
	}
	*ct = out
	return nil
}

// MarshalHeader encodes the ABE header alone, in the envelope (kind
// "header"): the part that wraps the level keys — what the ledger stores as
// m — without the sealed level data, which is stored apart (IPFS). Join it
// back with JoinCiphertext.
func (ct *Ciphertext) MarshalHeader() ([]byte, error) {
	if ct.scheme != idMSC && ct.scheme != idTKN20 {
		return nil, fmt.Errorf("%w: empty ciphertext", ErrInvalidInput)
	}
	b := make([]byte, 0, envelopeLen+len(ct.header))
	b = appendEnvelope(b, kindHeader, ct.scheme)
	return append(b, ct.header...), nil
}

// Sealed returns a copy of level l's sealed data (the AES-256-GCM output),
// or nil if the ciphertext does not hold that level (see JoinCiphertext).
func (ct *Ciphertext) Sealed(l policy.Level) []byte {
	if !l.Valid() || ct.sealed[l] == nil {
		return nil
	}
	return append([]byte(nil), ct.sealed[l]...)
}

// JoinCiphertext rebuilds a ciphertext from a header encoding
// (MarshalHeader) and the sealed levels (Sealed). A nil level is absent —
// the reader did not fetch it: DecryptLevel fails on it with
// ErrMissingLevel, and Decrypt opens the other levels and names it in a
// *PartialError.
// The header is validated as ParseCiphertext would; the sealed levels are
// authenticated at decryption, against the header.
func JoinCiphertext(header []byte, sealed Levels) (*Ciphertext, error) {
	s, hb, err := openEnvelope(header, kindHeader, envelopeLen+maxHeaderLen)
	if err != nil {
		return nil, err
	}
	out := Ciphertext{scheme: s, header: append([]byte(nil), hb...), headerHash: sha256.Sum256(hb)}
	switch s {
	case idMSC:
		out.msc, err = msc.UnmarshalHeader(out.header)
	case idTKN20:
		out.tkn, err = tknlevel.UnmarshalHeader(out.header)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: ciphertext header: %w", ErrMalformed, err)
	}
	for i, d := range sealed {
		if d == nil {
			continue
		}
		if len(d) < gcmOverhead || len(d) > MaxLevelDataLen+gcmOverhead {
			return nil, fmt.Errorf("%w: level %s: %d sealed bytes", ErrMalformed, policy.Level(i), len(d))
		}
		out.sealed[i] = append([]byte(nil), d...)
	}
	return &out, nil
}

// ParseCiphertext decodes a ciphertext.
func ParseCiphertext(b []byte) (*Ciphertext, error) {
	ct := new(Ciphertext)
	if err := ct.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return ct, nil
}

// Equal reports whether two ciphertexts are byte-for-byte equal.
func (ct *Ciphertext) Equal(o *Ciphertext) bool {
	if ct.scheme != o.scheme || string(ct.header) != string(o.header) {
		return false
	}
	for i := range ct.sealed {
		if string(ct.sealed[i]) != string(o.sealed[i]) {
			return false
		}
	}
	return true
}
