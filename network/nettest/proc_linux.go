package nettest

import (
	"os/exec"
	"syscall"
)

// bindToParent makes the kernel kill a node when the process that started
// it (a test, a benchmark) dies, however it dies: a killed benchmark must not
// leave three nodes running. (The signal follows the OS thread that forked
// the node; Go never ends its threads except under a goroutine that exits
// while locked to one, which neither medshare nor its tests do.)
func bindToParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
