package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/medshare/medshare/gateway"
)

// runGateway runs an organisation's REST gateway: flags → configuration
// (defaults, YAML, MEDSHARE_GATEWAY_* environment, validation) → wiring →
// run until SIGINT or SIGTERM.
func runGateway(args []string, _ io.Writer) error {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "gateway configuration (YAML); MEDSHARE_GATEWAY_* variables override it")
	check := fs.Bool("check", false, "validate the configuration and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := gateway.LoadConfig(*cfgPath, os.Environ())
	if err != nil {
		return err
	}
	if *check {
		fmt.Fprintln(os.Stderr, "configuration is valid")
		return nil
	}
	log := newLogger(cfg.LogLevel, cfg.LogFormat)
	if addr := os.Getenv(pprofEnv); addr != "" {
		at, err := servePprof(addr)
		if err != nil {
			return err
		}
		// On stderr whatever the log level: `bench gateway -pprof` reads it.
		fmt.Fprintf(os.Stderr, "pprof: http://%s/debug/pprof/\n", at)
	}
	g, err := gateway.Open(cfg, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return g.Run(ctx)
}
