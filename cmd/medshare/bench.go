package main

import (
	"fmt"
	"io"
)

func runBench(args []string, stdout io.Writer) error {
	verb, args, err := subcommand(args, "ledger")
	if err != nil {
		return err
	}
	_ = args
	return fmt.Errorf("bench %s: not built yet", verb)
}
