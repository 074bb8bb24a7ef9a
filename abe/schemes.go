package abe

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	bls "github.com/cloudflare/circl/ecc/bls12381"

	"github.com/medshare/medshare/abe/internal/msc"
	"github.com/medshare/medshare/abe/internal/tknlevel"
	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
)

const defaultCacheSize = msc.DefaultCacheSize

// mscScheme is BSW07 with one encapsulation per level. It holds the
// bounded, concurrency-safe cache of hashed attribute points.
type mscScheme struct{ s *msc.Scheme }

func newMSC(o options) mscScheme { return mscScheme{msc.New(o.cacheSize)} }

// Name returns "msc".
func (mscScheme) Name() string { return MSC }

// Setup implements Scheme.
func (m mscScheme) Setup(rand io.Reader) (*PublicKey, *MasterKey, error) {
	if rand == nil {
		return nil, nil, fmt.Errorf("%w: nil random source", ErrInvalidInput)
	}
	pk, msk, err := m.s.Setup(rand)
	if err != nil {
		return nil, nil, err
	}
	return &PublicKey{scheme: idMSC, msc: pk}, &MasterKey{scheme: idMSC, msc: msk}, nil
}

// KeyGen implements Scheme.
func (m mscScheme) KeyGen(rand io.Reader, msk *MasterKey, tags []tag.Tag) (*UserKey, error) {
	if rand == nil || msk == nil {
		return nil, fmt.Errorf("%w: nil random source or master key", ErrInvalidInput)
	}
	if msk.scheme != idMSC {
		return nil, fmt.Errorf("%w: %s master key", ErrSchemeMismatch, msk.scheme)
	}
	uk, err := m.s.KeyGen(rand, msk.msc, tags)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	return &UserKey{scheme: idMSC, msc: uk}, nil
}

func gtBytes(k *bls.Gt) []byte {
	b, _ := k.MarshalBinary()
	return b
}

// Encrypt implements Scheme.
func (m mscScheme) Encrypt(rand io.Reader, pk *PublicKey, rp *policy.Record, recordID []byte, data Levels) (*Ciphertext, error) {
	if err := checkEncryptArgs(rand, pk, rp, recordID, data); err != nil {
		return nil, err
	}
	if pk.scheme != idMSC {
		return nil, fmt.Errorf("%w: %s public key", ErrSchemeMismatch, pk.scheme)
	}
	hdr, keys, err := m.s.Encapsulate(rand, pk.msc, rp)
	if err != nil {
		return nil, err
	}
	hb, err := hdr.MarshalBinary()
	if err != nil {
		return nil, err
	}
	ct := &Ciphertext{scheme: idMSC, header: hb, headerHash: sha256.Sum256(hb), msc: hdr}
	for _, l := range policy.Levels {
		if ct.sealed[l], err = sealLevel(gtBytes(&keys[l]), idMSC, l, recordID, &ct.headerHash, data[l]); err != nil {
			return nil, err
		}
	}
	return ct, nil
}

// notAuthorized converts the internal schemes' errors.
func notAuthorized(err error) error {
	var m *msc.NotSatisfiedError
	if errors.As(err, &m) {
		return &NotAuthorizedError{Level: m.Level}
	}
	var t *tknlevel.NotSatisfiedError
	if errors.As(err, &t) {
		return &NotAuthorizedError{Level: t.Level}
	}
	if errors.Is(err, policy.ErrInvalidLevel) {
		return fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	return err
}

// Decrypt implements Scheme.
func (m mscScheme) Decrypt(uk *UserKey, ct *Ciphertext, recordID []byte) (Opened, error) {
	if err := checkDecryptArgs(idMSC, uk, ct, recordID); err != nil {
		return Opened{}, err
	}
	keys, err := m.s.DecapsulateAll(uk.msc, ct.msc)
	if err != nil {
		return Opened{}, notAuthorized(err)
	}
	return openLevels(idMSC, ct, recordID, policy.Level(len(keys)-1), func(l policy.Level) ([]byte, error) {
		return gtBytes(&keys[l]), nil
	})
}

// DecryptLevel implements Scheme.
func (m mscScheme) DecryptLevel(uk *UserKey, ct *Ciphertext, recordID []byte, l policy.Level) ([]byte, error) {
	if err := checkDecryptArgs(idMSC, uk, ct, recordID); err != nil {
		return nil, err
	}
	k, err := m.s.Decapsulate(uk.msc, ct.msc, l)
	if err != nil {
		return nil, notAuthorized(err)
	}
	return openLevel(gtBytes(&k), idMSC, l, recordID, &ct.headerHash, ct.sealed[l])
}

// tknScheme is circl's tkn20 with one ciphertext per level.
type tknScheme struct{}

// Name returns "tkn20".
func (tknScheme) Name() string { return TKN20 }

// Setup implements Scheme.
func (tknScheme) Setup(rand io.Reader) (*PublicKey, *MasterKey, error) {
	if rand == nil {
		return nil, nil, fmt.Errorf("%w: nil random source", ErrInvalidInput)
	}
	pk, msk, err := tknlevel.Setup(rand)
	if err != nil {
		return nil, nil, err
	}
	return &PublicKey{scheme: idTKN20, tkn: pk}, &MasterKey{scheme: idTKN20, tkn: msk}, nil
}

// KeyGen implements Scheme.
func (tknScheme) KeyGen(rand io.Reader, msk *MasterKey, tags []tag.Tag) (*UserKey, error) {
	if rand == nil || msk == nil {
		return nil, fmt.Errorf("%w: nil random source or master key", ErrInvalidInput)
	}
	if msk.scheme != idTKN20 {
		return nil, fmt.Errorf("%w: %s master key", ErrSchemeMismatch, msk.scheme)
	}
	uk, err := tknlevel.KeyGen(rand, msk.tkn, tags)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	return &UserKey{scheme: idTKN20, tkn: uk}, nil
}

// Encrypt implements Scheme.
func (tknScheme) Encrypt(rand io.Reader, pk *PublicKey, rp *policy.Record, recordID []byte, data Levels) (*Ciphertext, error) {
	if err := checkEncryptArgs(rand, pk, rp, recordID, data); err != nil {
		return nil, err
	}
	if pk.scheme != idTKN20 {
		return nil, fmt.Errorf("%w: %s public key", ErrSchemeMismatch, pk.scheme)
	}
	hdr, seeds, err := tknlevel.Encapsulate(rand, pk.tkn, rp)
	if err != nil {
		return nil, err
	}
	hb, err := hdr.MarshalBinary()
	if err != nil {
		return nil, err
	}
	ct := &Ciphertext{scheme: idTKN20, header: hb, headerHash: sha256.Sum256(hb), tkn: hdr}
	for _, l := range policy.Levels {
		if ct.sealed[l], err = sealLevel(seeds[l], idTKN20, l, recordID, &ct.headerHash, data[l]); err != nil {
			return nil, err
		}
	}
	return ct, nil
}

// Decrypt implements Scheme. Each level's tkn20 ciphertext is decrypted on
// its own, so a level whose tkn20 ciphertext fails (it is CCA-secure, so a
// changed one fails) is reported in the *PartialError like a level whose
// sealed data fails.
func (tknScheme) Decrypt(uk *UserKey, ct *Ciphertext, recordID []byte) (Opened, error) {
	if err := checkDecryptArgs(idTKN20, uk, ct, recordID); err != nil {
		return Opened{}, err
	}
	top, ok := Authorized(uk, ct)
	if !ok {
		return Opened{}, &NotAuthorizedError{Level: policy.Low}
	}
	return openLevels(idTKN20, ct, recordID, top, func(l policy.Level) ([]byte, error) {
		seed, err := tknlevel.Decapsulate(uk.tkn, ct.tkn, l)
		if err != nil {
			return nil, fmt.Errorf("%w: level %s: %w", ErrAuthentication, l, err)
		}
		return seed, nil
	})
}

// DecryptLevel implements Scheme.
func (tknScheme) DecryptLevel(uk *UserKey, ct *Ciphertext, recordID []byte, l policy.Level) ([]byte, error) {
	if err := checkDecryptArgs(idTKN20, uk, ct, recordID); err != nil {
		return nil, err
	}
	seed, err := tknlevel.Decapsulate(uk.tkn, ct.tkn, l)
	if err != nil {
		if errors.Is(err, tknlevel.ErrNotSatisfied) || errors.Is(err, policy.ErrInvalidLevel) {
			return nil, notAuthorized(err)
		}
		return nil, fmt.Errorf("%w: %w", ErrAuthentication, err)
	}
	return openLevel(seed, idTKN20, l, recordID, &ct.headerHash, ct.sealed[l])
}
