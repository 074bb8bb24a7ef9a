package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/medshare/medshare/network/node"
)

func runNode(args []string, _ io.Writer) error {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	configPath := fs.String("config", "", "node configuration file (YAML); MEDSHARE_* variables override it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := node.Load(*configPath)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("node configuration:\n%w", err)
	}
	log := newLogger(cfg.LogLevel, cfg.LogFormat)
	reg, err := registry()
	if err != nil {
		return err
	}
	n, err := node.New(cfg, reg, log)
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sigs
		log.Info("shutting down", "signal", s.String())
		n.Stop()
	}()
	return n.Serve()
}
