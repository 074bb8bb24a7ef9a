package txbuild

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/medshare/medshare/abe/policy"
	"github.com/medshare/medshare/abe/tag"
	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/storage"
)

// StoreInput is one Tx_sto = (S, u, m, checkCode, sign) for one side
// channel, S being the channel, the record id and the version.
type StoreInput struct {
	// RecordID is the record's id; Version is 1 for a new record and the
	// current version + 1 for an update.
	RecordID string
	Version  uint64
	// Address is u, the IPFS CID of the ciphertext C.
	Address string
	// Keys is m, the level's AES keys wrapped with MSC-CP-ABE.
	Keys []byte
	// CheckCode is SHA-256(C).
	CheckCode [32]byte
}

// Store returns the storage Store call of a Tx_sto on channel, signed by
// the data owner with the key of the certificate it submits with (the
// chaincode verifies sign against the transaction creator).
func Store(owner Signer, channel string, in StoreInput) (Call, error) {
	d := storage.Digest(channel, in.RecordID, in.Version, in.Address, in.Keys, in.CheckCode)
	sig, err := sign("Tx_sto signature", owner, d)
	if err != nil {
		return Call{}, err
	}
	return Call{Channel: channel, Chaincode: storage.Name, Fn: "Store", Args: []string{
		in.RecordID, strconv.FormatUint(in.Version, 10), in.Address,
		base64.StdEncoding.EncodeToString(in.Keys), hex.EncodeToString(in.CheckCode[:]), sig,
	}}, nil
}

// HidePolicy parses a policy in the policy language of package
// abe/policy ("role=doctor and trust>=2") and returns it hidden with the
// attribute authority's tag key — every attribute leaf replaced by its tag —
// in the binary form PolicyInput.HiddenPolicy takes.
func HidePolicy(tk tag.Key, src string) ([]byte, error) {
	tree, err := policy.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("txbuild: policy: %w", err)
	}
	b, err := tree.Hide(tk).MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("txbuild: policy: %w", err)
	}
	return b, nil
}

// SetPolicy returns the P-TL SetPolicy call setting a record's policy on
// channel. The record's owner submits it.
func SetPolicy(channel, recordID string, p ptl.PolicyInput) (Call, error) {
	js, err := marshal("policy", p)
	if err != nil {
		return Call{}, err
	}
	return Call{Channel: channel, Chaincode: ptl.Name, Fn: "SetPolicy", Args: []string{recordID, js}}, nil
}

// IndexRecord returns the index PutRecord call on the main channel that
// lists the side-chain transactions holding a record's levels.
func IndexRecord(channel, recordID string, in index.RecordInput) (Call, error) {
	js, err := marshal("index entry", in)
	if err != nil {
		return Call{}, err
	}
	return Call{Channel: channel, Chaincode: index.Name, Fn: "PutRecord", Args: []string{recordID, js}}, nil
}

// LogRequest returns the index LogRequest call on the main channel that
// logs an access (requestID = A) or a MeDShare request with links to its
// side-chain transactions. The record's owner submits it.
func LogRequest(channel string, in index.RequestInput) (Call, error) {
	js, err := marshal("request log entry", in)
	if err != nil {
		return Call{}, err
	}
	return Call{Channel: channel, Chaincode: index.Name, Fn: "LogRequest", Args: []string{js}}, nil
}
