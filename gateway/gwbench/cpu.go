package gwbench

import (
	"context"
	"time"

	"github.com/medshare/medshare/gateway/gwnet"
	"github.com/medshare/medshare/network/nettest"
)

// KindClient is the bench client (this process) among the process kinds.
const KindClient = "client"

// Kinds are the process kinds whose CPU time a run reports, in the order
// of the table's columns.
var Kinds = []string{gwnet.KindNode, gwnet.KindKubo, gwnet.KindGateway, KindClient}

// cpuSample is the CPU time used so far by each kind of process; a kind
// missing from it could not be read (not Linux, a process that exited).
type cpuSample map[string]time.Duration

// sampleCPU reads the CPU time of the processes in pids, by kind, and of
// this process as KindClient.
func sampleCPU(pids map[string][]int) cpuSample {
	s := cpuSample{}
	add := func(kind string, ps []int) {
		var total time.Duration
		for _, pid := range ps {
			d, err := nettest.ProcessCPU(pid)
			if err != nil {
				return
			}
			total += d
		}
		s[kind] = total
	}
	for kind, ps := range pids {
		add(kind, ps)
	}
	add(KindClient, []int{0})
	return s
}

// cpuDelta returns after − before per kind, for the kinds read both times.
func cpuDelta(before, after cpuSample) map[string]time.Duration {
	out := map[string]time.Duration{}
	for kind, a := range after {
		if b, ok := before[kind]; ok {
			out[kind] = a - b
		}
	}
	return out
}

// Quiet is the CPU use, in cores, below which the system counts as settled
// between runs: the idle system (Raft's heartbeats and commit-index
// appends on four channels, libp2p) uses about 0.35 cores of this
// machine, a run's leftover work (pins, compactions) well over a core.
const Quiet = 0.5

// settle waits until the processes in pids together use less than Quiet
// cores over a second, or until limit or ctx ends, and returns how long it
// waited. A run leaves work behind it (followers' pins, compactions):
// waiting charges that work to the run that caused it rather than to the
// next one.
func settle(ctx context.Context, pids map[string][]int, limit time.Duration) time.Duration {
	start := time.Now()
	prev := sampleCPU(pids)
	for time.Since(start) < limit {
		select {
		case <-ctx.Done():
			return time.Since(start)
		case <-time.After(time.Second):
		}
		cur := sampleCPU(pids)
		var busy time.Duration
		for _, d := range cpuDelta(prev, cur) {
			busy += d
		}
		prev = cur
		if busy.Seconds() < Quiet {
			return time.Since(start)
		}
	}
	return time.Since(start)
}
