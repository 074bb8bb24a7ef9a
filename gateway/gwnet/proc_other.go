//go:build !linux

package gwnet

import "os/exec"

// bindToParent does nothing where the kernel cannot tie a child's life to
// its parent's; Stop ends the processes.
func bindToParent(*exec.Cmd) {}
