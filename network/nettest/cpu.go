package nettest

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat: Linux reports
// them in USER_HZ ticks, 100 per second on every architecture it exposes.
const userHZ = 100

// ProcessCPU returns the user plus system CPU time process pid (0: this
// one) has used, every thread included, from /proc (Linux only). The
// benchmarks report CPU per operation from it.
func ProcessCPU(pid int) (time.Duration, error) {
	name := "/proc/self/stat"
	if pid > 0 {
		name = fmt.Sprintf("/proc/%d/stat", pid)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return 0, err
	}
	return parseStatCPU(b)
}

// parseStatCPU reads utime and stime (fields 14 and 15) from a
// /proc/<pid>/stat line. The command name (field 2) is in parentheses and may
// itself hold spaces or parentheses, so fields are counted from its last ')'.
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("nettest: malformed stat line")
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("nettest: short stat line")
	}
	var ticks uint64
	for _, s := range f[11:13] {
		v, err := strconv.ParseUint(string(s), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("nettest: stat CPU field %q: %w", s, err)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// cpuMeter adds up the CPU time of the network's node processes and of this
// process (the load client), so that a benchmark can report the machine's
// CPU cost per transaction: the work a transaction takes, apart from time
// spent waiting. A contended host still inflates it (slower cores take more
// CPU time for the same work), so builds are compared on interleaved runs.
type cpuMeter struct {
	pids []int // 0 is this process
}

// cpuMeter returns a meter over the running nodes and this process.
func (n *Network) cpuMeter() *cpuMeter {
	m := &cpuMeter{pids: []int{0}}
	for _, nd := range n.Nodes {
		nd.mu.Lock()
		if nd.cmd != nil && nd.cmd.Process != nil {
			m.pids = append(m.pids, nd.cmd.Process.Pid)
		}
		nd.mu.Unlock()
	}
	return m
}

// read returns the processes' total CPU time, or false where /proc cannot
// tell it (another OS, a node that exited).
func (m *cpuMeter) read() (time.Duration, bool) {
	var total time.Duration
	for _, pid := range m.pids {
		d, err := ProcessCPU(pid)
		if err != nil {
			return 0, false
		}
		total += d
	}
	return total, true
}
