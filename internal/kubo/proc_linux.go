package kubo

import (
	"os/exec"
	"syscall"
)

// bindToParent makes the kernel kill the daemon when the process that
// started it dies, however it dies. (The signal follows the OS thread that
// forked the daemon; Go ends no thread unless a goroutine exits while locked
// to it, which neither medshare nor its tests do.)
func bindToParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
