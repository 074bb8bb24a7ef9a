package txbuild

import (
	"errors"
	"time"

	"github.com/medshare/medshare/chaincode/internal/warrant"
)

// Warrant is a signed read warrant: a reader's permission for one relay
// (a gateway) to run the contracts' audit reads on its behalf, with its
// rights, for a limited time (docs/chaincode.md, "Reads through a
// gateway").
type Warrant = warrant.Warrant

// MaxWarrantValidity is the longest validity a warrant may have.
const MaxWarrantValidity = warrant.MaxValidity

// WarrantInput is what a reader signs.
type WarrantInput struct {
	// MSP is the reader's organisation and Certificate its signing
	// certificate (DER), whose key signs.
	MSP         string
	Certificate []byte
	// Relay is the unique name of the gateway the reader asks
	// ("x509::<subject>::<issuer>" of its certificate).
	Relay string
	// NotBefore and NotAfter bound the warrant (at most MaxWarrantValidity
	// apart).
	NotBefore, NotAfter time.Time
}

// SignWarrant signs a read warrant with the reader's key and returns its
// JSON, the argument of the contracts' ReadAs functions.
func SignWarrant(reader Signer, in WarrantInput) (string, error) {
	if in.MSP == "" || len(in.Certificate) == 0 || in.Relay == "" {
		return "", errors.New("txbuild: warrant: the reader's organisation, certificate and the relay are required")
	}
	if !in.NotAfter.After(in.NotBefore) || in.NotAfter.Sub(in.NotBefore) > warrant.MaxValidity {
		return "", errors.New("txbuild: warrant: notAfter must follow notBefore by at most an hour")
	}
	nb, na := in.NotBefore.UTC(), in.NotAfter.UTC()
	d := warrant.Digest(in.MSP, in.Certificate, in.Relay, nb, na)
	sig, err := signBytes("warrant signature", reader, d)
	if err != nil {
		return "", err
	}
	return marshal("warrant", &warrant.Warrant{MSP: in.MSP, Reader: in.Certificate, Relay: in.Relay,
		NotBefore: FormatTime(nb), NotAfter: FormatTime(na), Signature: sig})
}

// ReadAs returns the call running chaincode's read fn with args on channel
// on behalf of the reader of warrantJSON (SignWarrant). Each of storage, ptl
// and provenance serves ReadAs for its audit reads; the caller must be the
// relay the warrant names.
func ReadAs(channel, chaincode, warrantJSON, fn string, args ...string) (Call, error) {
	if args == nil {
		args = []string{}
	}
	js, err := marshal("read arguments", args)
	if err != nil {
		return Call{}, err
	}
	return Call{Channel: channel, Chaincode: chaincode, Fn: "ReadAs", Args: []string{warrantJSON, fn, js}}, nil
}
