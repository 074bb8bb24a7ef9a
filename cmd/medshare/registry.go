package main

import (
	"github.com/medshare/medshare/chaincode/index"
	"github.com/medshare/medshare/chaincode/provenance"
	"github.com/medshare/medshare/chaincode/ptl"
	"github.com/medshare/medshare/chaincode/storage"
	"github.com/medshare/medshare/network/chaincode"
	"github.com/medshare/medshare/network/executor"
	"github.com/medshare/medshare/network/kvcc"
)

// registry is the chaincode built into the node binary. A channel's
// lifecycle enables it by name: index on main; storage, ptl and provenance
// on each side channel; kv, the ledger's own test chaincode, anywhere.
func registry() (executor.Registry, error) {
	reg := executor.Registry{}
	for name, build := range map[string]func() (*chaincode.Chaincode, error){
		kvcc.Name:       kvcc.New,
		index.Name:      index.New,
		storage.Name:    storage.New,
		ptl.Name:        ptl.New,
		provenance.Name: provenance.New,
	} {
		// Fail at start-up, not on first use, if a contract is malformed.
		if _, err := build(); err != nil {
			return nil, err
		}
		reg[name] = func() (chaincode.Invoker, error) { return build() }
	}
	return reg, nil
}
