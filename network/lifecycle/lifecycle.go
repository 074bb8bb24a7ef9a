// Package lifecycle is the "_lifecycle" system chaincode: how a channel's
// organisations agree to enable a chaincode, as Fabric's chaincode lifecycle
// does. Each organisation's administrator approves a definition (name,
// version, sequence, optional init call); once a majority of the channel's
// organisations approved the same definition, any administrator commits it,
// and the chaincode becomes callable. Committing runs the definition's init
// function in the same transaction, so a chaincode is never callable
// uninitialised.
//
// Chaincode code itself is compiled into the node binary (there is no
// install step); a definition names code the nodes must have.
package lifecycle

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/medshare/medshare/network/block"
	"github.com/medshare/medshare/network/chaincode"
	"github.com/medshare/medshare/network/identity"
	"github.com/medshare/medshare/network/pb"
	"github.com/medshare/medshare/network/state"
)

// Name is the system chaincode's name, and the namespace of its state.
const Name = "_lifecycle"

// Function names.
const (
	FnApprove        = "ApproveForMyOrg"
	FnCommit         = "Commit"
	FnQueryCommitted = "QueryCommitted"
	FnQueryApprovals = "QueryApprovals"
)

// Members tells the lifecycle which organisations belong to the channel.
type Members func() []string

// Lifecycle implements chaincode.Invoker.
type Lifecycle struct {
	members   Members
	installed func(name string) bool
}

// New returns the lifecycle chaincode of a channel whose member MSP IDs
// members returns; installed reports whether this binary has a chaincode.
func New(members Members, installed func(name string) bool) *Lifecycle {
	return &Lifecycle{members: members, installed: installed}
}

func defKey(name string) string { return "def/" + name }

func approvalKey(name string, seq uint64, msp string) string {
	return "approval/" + name + "/" + strconv.FormatUint(seq, 10) + "/" + msp
}

// Definition reads a committed chaincode definition from the world state.
func Definition(r state.Reader, name string) (*pb.ChaincodeDefinition, error) {
	v, err := r.Get(Name, defKey(name))
	if err != nil || v == nil {
		return nil, err
	}
	d := new(pb.ChaincodeDefinition)
	if err := proto.Unmarshal(v, d); err != nil {
		return nil, fmt.Errorf("lifecycle: stored definition of %s: %w", name, err)
	}
	return d, nil
}

// EncodeDefinition serialises a definition as the ApproveForMyOrg argument.
func EncodeDefinition(d *pb.ChaincodeDefinition) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(d)
}

func digest(raw []byte) string {
	h := sha256.Sum256(raw)
	return hex.EncodeToString(h[:])
}

// Invoke implements chaincode.Invoker.
func (l *Lifecycle) Invoke(ctx chaincode.TransactionContext) ([]byte, error) {
	if ctx.GetClientIdentity().GetRole() != identity.RoleAdmin {
		return nil, fmt.Errorf("lifecycle: only administrators may call the lifecycle")
	}
	stub := ctx.GetStub()
	fn, _ := stub.GetFunctionAndParameters()
	args := stub.GetArgs()[1:]
	switch fn {
	case FnApprove:
		if len(args) != 1 {
			return nil, fmt.Errorf("lifecycle: %s takes one argument, the definition", fn)
		}
		return nil, l.approve(ctx, args[0])
	case FnCommit:
		if len(args) != 1 {
			return nil, fmt.Errorf("lifecycle: %s takes one argument, the chaincode name", fn)
		}
		return l.commit(ctx, string(args[0]))
	case FnQueryCommitted:
		if len(args) != 1 {
			return nil, fmt.Errorf("lifecycle: %s takes one argument, the chaincode name", fn)
		}
		v, err := stub.GetState(defKey(string(args[0])))
		if err != nil {
			return nil, err
		}
		if v == nil {
			return nil, fmt.Errorf("lifecycle: chaincode %s is not committed", args[0])
		}
		return v, nil
	case FnQueryApprovals:
		if len(args) != 2 {
			return nil, fmt.Errorf("lifecycle: %s takes the chaincode name and sequence", fn)
		}
		seq, err := strconv.ParseUint(string(args[1]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("lifecycle: the sequence is not a decimal number")
		}
		out := map[string]string{}
		for _, msp := range l.members() {
			v, err := stub.GetState(approvalKey(string(args[0]), seq, msp))
			if err != nil {
				return nil, err
			}
			if v != nil {
				out[msp] = string(v)
			}
		}
		return json.Marshal(out)
	}
	return nil, fmt.Errorf("lifecycle: unknown function %+q", fn)
}

func (l *Lifecycle) currentSequence(stub chaincode.Stub, name string) (uint64, error) {
	v, err := stub.GetState(defKey(name))
	if err != nil || v == nil {
		return 0, err
	}
	d := new(pb.ChaincodeDefinition)
	if err := proto.Unmarshal(v, d); err != nil {
		return 0, fmt.Errorf("lifecycle: stored definition of %s does not decode", name)
	}
	return d.GetSequence(), nil
}

func (l *Lifecycle) approve(ctx chaincode.TransactionContext, raw []byte) error {
	d := new(pb.ChaincodeDefinition)
	if err := proto.Unmarshal(raw, d); err != nil {
		return fmt.Errorf("lifecycle: the definition does not decode")
	}
	if !block.ValidChaincodeName(d.GetName()) || d.GetName()[0] == '_' {
		return fmt.Errorf("lifecycle: %+q is not a valid chaincode name", d.GetName())
	}
	if d.GetVersion() == "" {
		return fmt.Errorf("lifecycle: definition of %s has no version", d.GetName())
	}
	stub := ctx.GetStub()
	cur, err := l.currentSequence(stub, d.GetName())
	if err != nil {
		return err
	}
	if d.GetSequence() != cur+1 {
		return fmt.Errorf("lifecycle: %s: sequence %d, want %d", d.GetName(), d.GetSequence(), cur+1)
	}
	canonical, err := EncodeDefinition(d)
	if err != nil {
		return err
	}
	msp, _ := ctx.GetClientIdentity().GetMSPID()
	if err := stub.PutState(approvalKey(d.GetName(), d.GetSequence(), msp), []byte(digest(canonical))); err != nil {
		return err
	}
	return stub.PutState("pending/"+d.GetName()+"/"+digest(canonical), canonical)
}

func (l *Lifecycle) commit(ctx chaincode.TransactionContext, name string) ([]byte, error) {
	stub := ctx.GetStub()
	cur, err := l.currentSequence(stub, name)
	if err != nil {
		return nil, err
	}
	seq := cur + 1
	members := l.members()
	votes := map[string]int{}
	for _, msp := range members {
		v, err := stub.GetState(approvalKey(name, seq, msp))
		if err != nil {
			return nil, err
		}
		if v != nil {
			votes[string(v)]++
		}
	}
	var chosen string
	for d, n := range votes {
		if 2*n > len(members) {
			chosen = d
		}
	}
	if chosen == "" {
		return nil, fmt.Errorf("lifecycle: %s sequence %d is approved by no majority of the %d organisations", name, seq, len(members))
	}
	raw, err := stub.GetState("pending/" + name + "/" + chosen)
	if err != nil || raw == nil {
		return nil, fmt.Errorf("lifecycle: approved definition of %s is missing", name)
	}
	if !l.installed(name) {
		return nil, fmt.Errorf("lifecycle: chaincode %s is not built into this node", name)
	}
	if err := stub.PutState(defKey(name), raw); err != nil {
		return nil, err
	}
	d := new(pb.ChaincodeDefinition)
	if err := proto.Unmarshal(raw, d); err != nil {
		return nil, fmt.Errorf("lifecycle: approved definition of %s does not decode", name)
	}
	if d.GetInitFunction() != "" {
		args := append([][]byte{[]byte(d.GetInitFunction())}, d.GetInitArgs()...)
		if _, err := stub.InvokeChaincode(name, args, ""); err != nil {
			return nil, fmt.Errorf("lifecycle: init of %s: %w", name, err)
		}
	}
	if err := stub.SetEvent("ChaincodeCommitted", []byte(name)); err != nil {
		return nil, err
	}
	return raw, nil
}
