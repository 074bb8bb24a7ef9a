package main

import (
	"github.com/medshare/medshare/network/executor"
	"github.com/medshare/medshare/network/kvcc"
)

// registry is the chaincode built into the node binary. A channel's
// lifecycle enables it by name.
func registry() (executor.Registry, error) {
	kv, err := kvcc.New()
	if err != nil {
		return nil, err
	}
	return executor.Registry{kvcc.Name: kv}, nil
}
