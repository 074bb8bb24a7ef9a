package channel

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/medshare/medshare/network/block"
	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/lthash"
	"github.com/medshare/medshare/network/pb"
)

// The genesis block's single transaction calls the "_config" system
// namespace's "genesis" function with the configuration; its one write stores
// the configuration in the world state.
const (
	ConfigNamespace = "_config"
	ConfigKey       = "channel"
	genesisFunction = "genesis"
)

// BlockVersion is the version of the blocks this code cuts and applies: of
// their format and of the rules their transactions are executed under, which
// the tx root and state hash in every header depend on. Nodes apply only
// blocks of their own version, so nodes of different versions never commit
// different results for one block: they refuse each other's blocks.
//
//	1  the first rules.
//	2  issue 10: only the canonical encoding of an envelope and a proposal
//	   is a transaction; ACL rules compare qualified function names and
//	   apply to chaincode-to-chaincode calls; result messages carry no
//	   library error text. The format is unchanged.
//
// A genesis block executes nothing, so a channel created by version 1 code
// can be joined and continued by version 2 nodes (all of them at once), and
// ledger verification, which re-checks hashes, signatures and writes but
// does not re-execute, accepts blocks of every version up to this one.
const BlockVersion = 2

// MinBlockVersion is the oldest block version this code still verifies.
const MinBlockVersion = 1

// Genesis builds and signs the genesis block of a channel. The signer must
// be an administrator of one of the channel's organisations.
func Genesis(cfg *pb.ChannelConfig, admin *identity.Signer, now time.Time) (*pb.Block, error) {
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if admin.Role() != identity.RoleAdmin {
		return nil, fmt.Errorf("channel %s: genesis must be signed by an administrator, not a %s", c.Name(), admin.Role())
	}
	if _, err := c.Membership().Validate(admin.MSPID(), admin.Bytes(), now); err != nil {
		return nil, fmt.Errorf("channel %s: genesis signer: %w", c.Name(), err)
	}
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("channel %s: marshal config: %w", c.Name(), err)
	}
	nonce := make([]byte, 24)
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, fmt.Errorf("channel %s: nonce: %w", c.Name(), err)
	}
	env, txID, err := block.SignProposal(admin, block.Proposal{
		Channel: c.Name(), Chaincode: ConfigNamespace, Function: genesisFunction,
		Args: [][]byte{raw}, Nonce: nonce, Timestamp: now,
	})
	if err != nil {
		return nil, err
	}
	envRaw, err := proto.MarshalOptions{Deterministic: true}.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("channel %s: marshal envelope: %w", c.Name(), err)
	}
	result := genesisResult(txID, raw)
	header := &pb.BlockHeader{
		Version:      BlockVersion,
		Channel:      c.Name(),
		Number:       0,
		PreviousHash: make([]byte, 32),
		StateHash:    genesisStateHash(raw),
		Timestamp:    now.UnixNano(),
		Cutter:       admin.Name(),
	}
	root := block.TxRoot([][]byte{envRaw}, []*pb.TxResult{result})
	header.TxRoot = root[:]
	h := block.HeaderHash(header)
	sig, err := admin.SignDigest(h[:])
	if err != nil {
		return nil, fmt.Errorf("channel %s: sign genesis: %w", c.Name(), err)
	}
	return &pb.Block{
		Header:       header,
		Transactions: [][]byte{envRaw},
		Signature:    sig,
		CutterMsp:    admin.MSPID(),
		CutterCert:   admin.Bytes(),
		Results:      []*pb.TxResult{result},
	}, nil
}

func genesisResult(txID string, cfg []byte) *pb.TxResult {
	return &pb.TxResult{
		TxId:   txID,
		Code:   pb.ValidationCode_VALID,
		Writes: []*pb.KVWrite{{Namespace: ConfigNamespace, Key: ConfigKey, Value: cfg}},
	}
}

func genesisStateHash(cfg []byte) []byte {
	var h lthash.Hash
	h.Add(lthash.Element(ConfigNamespace, ConfigKey, cfg))
	sum := h.Sum()
	return sum[:]
}

// VerifyGenesis checks a genesis block completely — configuration, the
// administrator's signatures on the transaction and the header, the result,
// tx root and state hash — and returns the channel configuration.
func VerifyGenesis(b *pb.Block) (*Config, error) {
	h := b.GetHeader()
	if h == nil || h.GetNumber() != 0 || h.GetVersion() < MinBlockVersion || h.GetVersion() > BlockVersion {
		return nil, fmt.Errorf("channel: not a genesis block of a version this code knows")
	}
	if len(b.GetTransactions()) != 1 || len(b.GetResults()) != 1 {
		return nil, fmt.Errorf("channel: genesis block must hold exactly one transaction and its result")
	}
	tx, err := block.ParseTx(b.GetTransactions()[0], 0)
	if err != nil {
		return nil, fmt.Errorf("channel: genesis transaction: %w", err)
	}
	p := tx.Proposal
	if p.GetChaincode() != ConfigNamespace || tx.Function() != genesisFunction || len(p.GetArgs()) != 2 {
		return nil, fmt.Errorf("channel: genesis transaction is not a configuration")
	}
	raw := p.GetArgs()[1]
	cfgMsg := new(pb.ChannelConfig)
	if err := proto.Unmarshal(raw, cfgMsg); err != nil {
		return nil, fmt.Errorf("channel: genesis configuration: %w", err)
	}
	cfg, err := New(cfgMsg)
	if err != nil {
		return nil, err
	}
	if cfg.Name() != h.GetChannel() || cfg.Name() != p.GetChannel() {
		return nil, fmt.Errorf("channel: genesis names channel %q in its header and %q in its configuration", h.GetChannel(), cfg.Name())
	}
	at := tx.Timestamp()
	admin, err := cfg.Membership().Validate(p.GetMspId(), p.GetCreator(), at)
	if err != nil {
		return nil, fmt.Errorf("channel %s: genesis signer: %w", cfg.Name(), err)
	}
	if admin.Role() != identity.RoleAdmin {
		return nil, fmt.Errorf("channel %s: genesis signed by a %s, not an administrator", cfg.Name(), admin.Role())
	}
	if err := admin.Verify(tx.Envelope.GetProposal(), tx.Envelope.GetSignature()); err != nil {
		return nil, fmt.Errorf("channel %s: genesis transaction: %w", cfg.Name(), err)
	}
	want := genesisResult(tx.TxID, raw)
	if !proto.Equal(want, b.GetResults()[0]) {
		return nil, fmt.Errorf("channel %s: genesis result does not match its configuration", cfg.Name())
	}
	root := block.TxRoot(b.GetTransactions(), b.GetResults())
	if !bytes.Equal(root[:], h.GetTxRoot()) {
		return nil, fmt.Errorf("channel %s: genesis tx root mismatch", cfg.Name())
	}
	if !bytes.Equal(genesisStateHash(raw), h.GetStateHash()) {
		return nil, fmt.Errorf("channel %s: genesis state hash mismatch", cfg.Name())
	}
	if !bytes.Equal(h.GetPreviousHash(), make([]byte, 32)) {
		return nil, fmt.Errorf("channel %s: genesis previous hash must be zero", cfg.Name())
	}
	if !bytes.Equal(b.GetCutterCert(), p.GetCreator()) || b.GetCutterMsp() != p.GetMspId() || h.GetCutter() != admin.Name() {
		return nil, fmt.Errorf("channel %s: genesis must be cut by the administrator who signed it", cfg.Name())
	}
	hash := block.HeaderHash(h)
	if err := identity.VerifyDigest(admin.PublicKey(), hash[:], b.GetSignature()); err != nil {
		return nil, fmt.Errorf("channel %s: genesis header signature: %w", cfg.Name(), err)
	}
	return cfg, nil
}

// ConfigFromState decodes the configuration stored in the world state.
func ConfigFromState(raw []byte) (*Config, error) {
	msg := new(pb.ChannelConfig)
	if err := proto.Unmarshal(raw, msg); err != nil {
		return nil, fmt.Errorf("channel: stored configuration: %w", err)
	}
	return New(msg)
}
