package nettest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/medshare/medshare/network/client"
)

// Workload is what one load client does per transaction: it submits through
// gw and returns once the transaction committed (or failed). n counts the
// client's transactions.
type Workload func(ctx context.Context, gw *client.Gateway, clientIndex, n int) error

// LoadResult summarises a load run.
type LoadResult struct {
	Concurrency int
	Committed   int
	Failed      int
	Duration    time.Duration
	TPS         float64
	P50         time.Duration
	P95         time.Duration
	P99         time.Duration
	Max         time.Duration
	// CPUPerTx is the CPU time the node processes and the load client
	// used together per committed transaction (0 where /proc cannot tell).
	// It measures work rather than waiting, though a contended host still
	// inflates it.
	CPUPerTx   time.Duration
	FirstError error
}

// String formats the result as a table row.
func (r LoadResult) String() string {
	cpu := "–"
	if r.CPUPerTx > 0 {
		cpu = fmt.Sprintf("%.2f ms", float64(r.CPUPerTx.Microseconds())/1000)
	}
	return fmt.Sprintf("| %d | %d | %d | %.0f | %s | %s | %s | %s | %s |", r.Concurrency, r.Committed, r.Failed, r.TPS,
		ms(r.P50), ms(r.P95), ms(r.P99), ms(r.Max), cpu)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }

// Load runs a closed-loop load: concurrency clients, client i submitting
// through node i mod 3 as organisation i mod 3's user, each running the
// workload back to back until total transactions were attempted or the
// duration passed. The clients of a node share one connection to it.
// Latency is measured from submission to the commit seen by the client; CPU
// time is that of the nodes and this process over the run.
func (n *Network) Load(ctx context.Context, concurrency, total int, limit time.Duration, user func(org int) string, w Workload) (LoadResult, error) {
	res := LoadResult{Concurrency: concurrency}
	// One connection per node, shared by that node's clients, as an
	// application serving many requests shares its gateway connection:
	// gRPC multiplexes the clients' calls over it.
	gws := make([]*client.Gateway, len(n.Nodes))
	for idx := range n.Nodes {
		conn, s, err := n.NewConn(idx, idx, user(idx))
		if err != nil {
			return res, err
		}
		defer conn.Close()
		id := client.Signer{S: s}
		gws[idx], err = client.Connect(id, client.WithSign(id.Sign), client.WithClientConnection(conn))
		if err != nil {
			return res, err
		}
	}
	var (
		next      atomic.Int64
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, total)
		failed    atomic.Int64
		firstErr  error
		wg        sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	meter := n.cpuMeter()
	cpu0, cpuOK := meter.read()
	start := time.Now()
	for i := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				if next.Add(1) > int64(total) || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				err := w(ctx, gws[i%len(gws)], i, k)
				d := time.Since(t0)
				if err != nil {
					if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
						return
					}
					failed.Add(1)
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				mu.Lock()
				latencies = append(latencies, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.Duration = time.Since(start)
	if cpu1, ok := meter.read(); ok && cpuOK && len(latencies) > 0 {
		res.CPUPerTx = (cpu1 - cpu0) / time.Duration(len(latencies))
	}
	res.Committed = len(latencies)
	res.Failed = int(failed.Load())
	res.FirstError = firstErr
	res.TPS = float64(res.Committed) / res.Duration.Seconds()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	pct := func(p float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))]
	}
	res.P50, res.P95, res.P99 = pct(0.50), pct(0.95), pct(0.99)
	if len(latencies) > 0 {
		res.Max = latencies[len(latencies)-1]
	}
	return res, nil
}
