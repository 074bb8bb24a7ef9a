package main

import (
	"errors"
	"io"
)

// benchChaincode measures Tx_sto and Tx_acc on the three-node network.
func benchChaincode(args []string, stdout io.Writer) error {
	return errors.New("bench chaincode: not written yet")
}
