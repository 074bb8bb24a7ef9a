package gwbench

import (
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
