package block

import (
	"fmt"
	"regexp"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/medshare/medshare/network/pb"
)

// ProposalVersion is the proposal format this code writes and accepts.
const ProposalVersion = 1

// Limits on proposal fields, checked before anything else is done with them.
const (
	MinNonceLen   = 16
	MaxNonceLen   = 64
	MaxCreatorLen = 8 << 10
	MaxArgs       = 64
)

// chaincodeName is the syntax of chaincode names: lower case, digits, '-'
// and '_'; a leading '_' marks system chaincode.
var chaincodeName = regexp.MustCompile(`^_?[a-z0-9][a-z0-9_-]{0,63}$`)

// channelName is the syntax of channel names, as Fabric restricts them.
var channelName = regexp.MustCompile(`^[a-z][a-z0-9.-]{0,248}$`)

// ValidChaincodeName reports whether name is a well-formed chaincode name.
func ValidChaincodeName(name string) bool { return chaincodeName.MatchString(name) }

// ValidChannelName reports whether name is a well-formed channel name.
func ValidChannelName(name string) bool { return channelName.MatchString(name) }

// ValidationError is a transaction rejected before or during execution, with
// the code that goes into its block.
//
// Code and Msg enter the transaction's result, which every node computes and
// the block's Merkle root commits to, so both must be the same on every node
// and every build: Msg is made only of fixed text, integers and names that
// passed validation — never a library's error text (protobuf-go varies its
// own on purpose, crypto/x509 and encoding/json change theirs between Go
// releases) and never echoed input (Go's quoting of Unicode follows the
// Unicode tables of the release). Such text goes into Detail, which is
// reported to the submitting client and logged, but never stored in a block.
type ValidationError struct {
	Code   pb.ValidationCode
	Msg    string
	Detail string
}

func (e *ValidationError) Error() string {
	if e.Detail == "" {
		return e.Code.String() + ": " + e.Msg
	}
	return e.Code.String() + ": " + e.Msg + " (" + e.Detail + ")"
}

// Invalid returns a ValidationError with a formatted message. The message is
// consensus-critical (see ValidationError): format it only from constants,
// integers and validated names.
func Invalid(code pb.ValidationCode, format string, args ...any) *ValidationError {
	return &ValidationError{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// WithDetail adds diagnostic text that is never hashed, and returns e.
func (e *ValidationError) WithDetail(format string, args ...any) *ValidationError {
	e.Detail = fmt.Sprintf(format, args...)
	return e
}

// Signer is what signs proposals: a client identity and its key.
type Signer interface {
	MSPID() string
	// Bytes is the DER certificate that goes into the proposal as creator.
	Bytes() []byte
	// Sign returns a signature over SHA-256(msg).
	Sign(msg []byte) ([]byte, error)
}

// Proposal is the content of a transaction before it is signed.
type Proposal struct {
	Channel   string
	Chaincode string
	Function  string
	Args      [][]byte
	Nonce     []byte
	Timestamp time.Time
}

// SignProposal builds and signs a transaction, returning the envelope and
// its ID.
func SignProposal(s Signer, p Proposal) (*pb.Envelope, string, error) {
	args := make([][]byte, 0, len(p.Args)+1)
	args = append(args, []byte(p.Function))
	args = append(args, p.Args...)
	msg := &pb.Proposal{
		Version:   ProposalVersion,
		Channel:   p.Channel,
		Chaincode: p.Chaincode,
		Args:      args,
		MspId:     s.MSPID(),
		Creator:   s.Bytes(),
		Nonce:     p.Nonce,
		Timestamp: p.Timestamp.UnixNano(),
	}
	raw, err := proto.Marshal(msg)
	if err != nil {
		return nil, "", fmt.Errorf("block: marshal proposal: %w", err)
	}
	sig, err := s.Sign(raw)
	if err != nil {
		return nil, "", fmt.Errorf("block: sign proposal: %w", err)
	}
	return &pb.Envelope{Proposal: raw, Signature: sig}, TxID(p.Nonce, s.Bytes()), nil
}

// Tx is a decoded, structurally checked transaction in its canonical
// encoding. Its signature and creator are not yet verified.
type Tx struct {
	Envelope *pb.Envelope
	Proposal *pb.Proposal
	// Raw is the serialised envelope, as stored in blocks.
	Raw  []byte
	TxID string
}

// Function is the called function's name.
func (t *Tx) Function() string { return string(t.Proposal.Args[0]) }

// Timestamp is the client-signed time.
func (t *Tx) Timestamp() time.Time { return time.Unix(0, t.Proposal.Timestamp).UTC() }

// ParseTx decodes a serialised envelope and checks its structure, including
// that both the envelope and the proposal are canonically encoded. maxBytes
// bounds the envelope size (0: no bound). Errors are *ValidationError.
func ParseTx(raw []byte, maxBytes int) (*Tx, error) {
	if maxBytes > 0 && len(raw) > maxBytes {
		return nil, Invalid(pb.ValidationCode_OVERSIZED, "transaction of %d bytes exceeds the channel's limit of %d", len(raw), maxBytes)
	}
	env := new(pb.Envelope)
	if err := proto.Unmarshal(raw, env); err != nil {
		return nil, Invalid(pb.ValidationCode_BAD_PAYLOAD, "envelope does not decode").WithDetail("%v", err)
	}
	if !canonical(raw, envelopeFields) {
		return nil, Invalid(pb.ValidationCode_BAD_PAYLOAD, "envelope is not canonically encoded")
	}
	tx, err := checkEnvelope(env)
	if err != nil {
		return nil, err
	}
	tx.Raw = raw
	return tx, nil
}

// TxFromEnvelope checks an envelope received as a message and serialises it
// deterministically for storage. An envelope that carries fields this
// version does not know is refused: they would be stored and hashed, though
// nobody signed them.
func TxFromEnvelope(env *pb.Envelope, maxBytes int) (*Tx, error) {
	if len(env.ProtoReflect().GetUnknown()) > 0 {
		return nil, Invalid(pb.ValidationCode_BAD_PAYLOAD, "envelope is not canonically encoded")
	}
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(env)
	if err != nil {
		return nil, Invalid(pb.ValidationCode_BAD_PAYLOAD, "envelope does not encode").WithDetail("%v", err)
	}
	if maxBytes > 0 && len(raw) > maxBytes {
		return nil, Invalid(pb.ValidationCode_OVERSIZED, "transaction of %d bytes exceeds the channel's limit of %d", len(raw), maxBytes)
	}
	tx, err := checkEnvelope(env)
	if err != nil {
		return nil, err
	}
	tx.Raw = raw
	return tx, nil
}

func checkEnvelope(env *pb.Envelope) (*Tx, error) {
	if len(env.GetSignature()) == 0 {
		return nil, Invalid(pb.ValidationCode_BAD_SIGNATURE, "transaction is not signed")
	}
	p := new(pb.Proposal)
	if err := proto.Unmarshal(env.GetProposal(), p); err != nil {
		return nil, Invalid(pb.ValidationCode_BAD_PAYLOAD, "proposal does not decode").WithDetail("%v", err)
	}
	// The signature covers the proposal's bytes, so they must be the only
	// encoding of what they mean.
	if !canonical(env.GetProposal(), proposalFields) {
		return nil, Invalid(pb.ValidationCode_BAD_PAYLOAD, "proposal is not canonically encoded")
	}
	switch {
	case p.GetVersion() != ProposalVersion:
		return nil, Invalid(pb.ValidationCode_BAD_PAYLOAD, "proposal version %d, want %d", p.GetVersion(), ProposalVersion)
	case !ValidChannelName(p.GetChannel()):
		return nil, Invalid(pb.ValidationCode_BAD_PAYLOAD, "channel name is not valid").WithDetail("%q", p.GetChannel())
	case !ValidChaincodeName(p.GetChaincode()):
		return nil, Invalid(pb.ValidationCode_BAD_PAYLOAD, "chaincode name is not valid").WithDetail("%q", p.GetChaincode())
	case len(p.GetArgs()) == 0 || len(p.GetArgs()[0]) == 0:
		return nil, Invalid(pb.ValidationCode_BAD_PAYLOAD, "no function name")
	case len(p.GetArgs()) > MaxArgs+1:
		return nil, Invalid(pb.ValidationCode_BAD_PAYLOAD, "%d arguments exceed the limit of %d", len(p.GetArgs())-1, MaxArgs)
	case p.GetMspId() == "":
		return nil, Invalid(pb.ValidationCode_UNKNOWN_CREATOR, "no MSP ID")
	case len(p.GetCreator()) == 0 || len(p.GetCreator()) > MaxCreatorLen:
		return nil, Invalid(pb.ValidationCode_UNKNOWN_CREATOR, "creator certificate of %d bytes", len(p.GetCreator()))
	case len(p.GetNonce()) < MinNonceLen || len(p.GetNonce()) > MaxNonceLen:
		return nil, Invalid(pb.ValidationCode_BAD_PAYLOAD, "nonce of %d bytes, want %d..%d", len(p.GetNonce()), MinNonceLen, MaxNonceLen)
	case p.GetTimestamp() <= 0:
		return nil, Invalid(pb.ValidationCode_BAD_TIMESTAMP, "no timestamp")
	}
	return &Tx{Envelope: env, Proposal: p, TxID: TxID(p.GetNonce(), p.GetCreator())}, nil
}
