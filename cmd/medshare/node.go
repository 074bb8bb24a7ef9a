package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/medshare/medshare/network/node"
)

// serviceGCPercent is the garbage-collection target of long-running
// services (nodes, and the benchmarks' load clients, which play gateways)
// when GOGC is unset.
const serviceGCPercent = 400

// setServiceGC applies serviceGCPercent unless GOGC is set. A node's live
// heap is small next to the garbage each block leaves (decoded
// transactions, chaincode values), so collecting at 5× the live heap
// instead of 2× saves CPU for little memory.
func setServiceGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serviceGCPercent)
	}
}

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
	setServiceGC()
	reg, err := registry()
	if err != nil {
		return err
	}
	n, err := node.New(cfg, reg, log)
	if err != nil {
		return err
	}
	if cfg.DebugAddress != "" {
		stop := serveDebug(cfg.DebugAddress, log)
		defer stop()
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

// serveDebug serves net/http/pprof on addr (validated as loopback) until
// the returned function is called. The log names the bound address, so
// port 0 (MEDSHARE_DEBUG_ADDRESS=127.0.0.1:0 for a benchmark's nodes) can
// be found.
func serveDebug(addr string, log *slog.Logger) func() {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error("cannot serve profiles", "address", addr, "err", err)
		return func() {}
	}
	srv := &http.Server{Handler: pprofMux(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		log.Info("serving profiles", "address", "http://"+ln.Addr().String()+"/debug/pprof/")
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("debug server stopped", "err", err)
		}
	}()
	return func() { srv.Close() }
}
