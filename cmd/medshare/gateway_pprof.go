package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// pprofEnv names the environment variable that, set to a loopback
// host:port (port 0: any free one), makes `medshare gateway` serve Go's
// profiles (net/http/pprof) there, for profiling under load (`medshare
// bench gateway -pprof`). Unset, nothing is served. It is outside the
// MEDSHARE_GATEWAY_* configuration variables, which name settings only.
const pprofEnv = "MEDSHARE_PPROF_ADDRESS"

// servePprof serves the profiles on addr, a loopback host:port, and
// returns the address it listens on. The server runs until the process
// exits.
func servePprof(addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%s: %w", pprofEnv, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("%s: %q is not a loopback address", pprofEnv, addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("%s: %w", pprofEnv, err)
	}
	srv := &http.Server{Handler: pprofMux(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return ln.Addr().String(), nil
}

// pprofMux routes Go's profiles (net/http/pprof) under /debug/pprof/, for
// the nodes' debug address and the gateways' MEDSHARE_PPROF_ADDRESS.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
