//go:build !linux

package nettest

import "os/exec"

// bindToParent does nothing where the kernel cannot tie a child's life to
// its parent's; Network.Stop still stops the nodes.
func bindToParent(*exec.Cmd) {}
