package gwnet

import (
	"os/exec"
	"syscall"
)

// bindToParent makes the kernel kill cmd when this process dies.
func bindToParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
