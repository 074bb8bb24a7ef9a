package medpkg

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
)

// Sealed is a sealed package: its envelope and the envelope's hash.
type Sealed struct {
	// Bytes is the envelope, as stored or delivered.
	Bytes []byte
	// Hash is SHA-256 of Bytes: the provenance contract's packageHash.
	Hash [32]byte
}

// Seal validates p and encrypts it to the requestor's package key with
// HPKE (base mode) of the key's suite. rnd supplies the encapsulation's
// randomness (crypto/rand.Reader; a fixed stream gives a fixed envelope,
// for test vectors).
func Seal(rnd io.Reader, p *Package, to *PublicKey) (*Sealed, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if to == nil {
		return nil, fmt.Errorf("%w: no recipient key", ErrInvalidKey)
	}
	pt, err := encodePackage(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPackage, err)
	}
	if len(pt)+aeadOverhead > MaxCiphertext {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrInvalidPackage, len(pt), MaxCiphertext-aeadOverhead)
	}
	sender, err := to.suite.hpke().NewSender(to.key, info(p.RequestID, p.DataID))
	if err != nil {
		return nil, fmt.Errorf("medpkg: seal: %w", err)
	}
	enc, sealer, err := sender.Setup(rnd)
	if err != nil {
		return nil, fmt.Errorf("medpkg: seal: %w", err)
	}
	header := appendHeader(make([]byte, 0, 256+len(enc)+len(pt)), to.suite, p.RequestID, p.DataID, to.ID(), enc)
	ct, err := sealer.Seal(pt, header)
	if err != nil {
		return nil, fmt.Errorf("medpkg: seal: %w", err)
	}
	out := binary.BigEndian.AppendUint32(header, uint32(len(ct)))
	out = append(out, ct...)
	return &Sealed{Bytes: out, Hash: sha256.Sum256(out)}, nil
}

// Open decrypts an envelope with the requestor's private package key and
// returns the package, checked with Validate, and its hash. requestID is
// the request the client made: a package answering another request is
// refused (ErrWrongRequest) before decryption, a package sealed to another
// key (ErrWrongKey) too; an envelope whose header or ciphertext was altered
// fails authentication (ErrTampered). The content's request and data ids
// must match the header's.
func Open(envelope []byte, key *PrivateKey, requestID string) (*Package, [32]byte, error) {
	var hash [32]byte
	e, err := ParseEnvelope(envelope)
	if err != nil {
		return nil, hash, err
	}
	if key == nil {
		return nil, hash, fmt.Errorf("%w: no key", ErrInvalidKey)
	}
	if e.RequestID != requestID {
		return nil, hash, fmt.Errorf("%w: the package is for request %s, not %s", ErrWrongRequest, e.RequestID, truncate(requestID, MaxIDLen))
	}
	if e.Suite != key.pub.suite || e.Recipient != key.pub.ID() {
		return nil, hash, ErrWrongKey
	}
	receiver, err := e.Suite.hpke().NewReceiver(key.key, info(e.RequestID, e.DataID))
	if err != nil {
		return nil, hash, fmt.Errorf("medpkg: open: %w", err)
	}
	opener, err := receiver.Setup(e.Enc)
	if err != nil {
		return nil, hash, ErrTampered
	}
	pt, err := opener.Open(e.Ciphertext, e.header())
	if err != nil {
		return nil, hash, ErrTampered
	}
	p, err := decodePackage(pt)
	if err != nil {
		return nil, hash, err
	}
	if p.RequestID != e.RequestID || p.DataID != e.DataID {
		return nil, hash, fmt.Errorf("%w: the content names another request or data id than its envelope", ErrInvalidPackage)
	}
	return p, e.Hash(), nil
}

// decodePackage decodes a package's JSON strictly: known fields only, one
// value, then Validate.
func decodePackage(b []byte) (*Package, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p Package
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPackage, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the package", ErrInvalidPackage)
	}
	if err := p.validate(false); err != nil {
		return nil, err
	}
	return &p, nil
}

// encodePackage is json.Marshal(p) without re-scanning the records, which
// Validate has checked: the package's fields, then each record's document
// as it is (valid JSON; compacted or not, the JSON value is the same).
func encodePackage(p *Package) ([]byte, error) {
	head := *p
	head.Records = nil
	b, err := json.Marshal(&head)
	if err != nil {
		return nil, err
	}
	// b ends with `"records":null}`.
	const tail = `"records":null}`
	if !bytes.HasSuffix(b, []byte(tail)) {
		return nil, fmt.Errorf("unexpected encoding of the package")
	}
	size := len(b)
	for _, r := range p.Records {
		size += len(r.FHIR) + len(r.RecordID) + 64
	}
	out := make([]byte, 0, size)
	out = append(out, b[:len(b)-len(tail)]...)
	out = append(out, `"records":[`...)
	for i, r := range p.Records {
		if i > 0 {
			out = append(out, ',')
		}
		rec, err := json.Marshal(struct {
			RecordID string `json:"recordID"`
			Version  uint64 `json:"version"`
		}{r.RecordID, r.Version})
		if err != nil {
			return nil, err
		}
		out = append(out, rec[:len(rec)-1]...)
		out = append(out, `,"fhir":`...)
		out = append(out, r.FHIR...)
		out = append(out, '}')
	}
	return append(out, "]}"...), nil
}
