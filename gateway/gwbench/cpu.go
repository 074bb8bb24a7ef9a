package gwbench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/medshare/medshare/gateway/gwnet"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat: Linux reports
// them in USER_HZ ticks, 100 per second on every architecture it exposes.
const userHZ = 100

// KindClient is the bench client (this process) among the process kinds.
const KindClient = "client"

// Kinds are the process kinds whose CPU time a run reports, in the order
// of the table's columns.
var Kinds = []string{gwnet.KindNode, gwnet.KindKubo, gwnet.KindGateway, KindClient}

// parseStatCPU reads utime and stime (fields 14 and 15) from a
// /proc/<pid>/stat line. The command name (field 2) is in parentheses and may
// itself hold spaces or parentheses, so fields are counted from its last ')'.
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("gwbench: malformed stat line")
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("gwbench: short stat line")
	}
	var ticks uint64
	for _, s := range f[11:13] {
		v, err := strconv.ParseUint(string(s), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("gwbench: stat CPU field %q: %w", s, err)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// processCPU returns the user plus system CPU time process pid (0: this
// one) has used, every thread included, from /proc (Linux only).
func processCPU(pid int) (time.Duration, error) {
	name := "/proc/self/stat"
	if pid > 0 {
		name = fmt.Sprintf("/proc/%d/stat", pid)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return 0, fmt.Errorf("gwbench: CPU time: %w", err)
	}
	return parseStatCPU(b)
}

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
			d, err := processCPU(pid)
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
