//go:build !unix

package sandbox

import (
	"os"
	"os/exec"
)

// setProcessGroup does nothing here: without process groups only the child
// itself is killed.
func setProcessGroup(cmd *exec.Cmd) {}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}

func closeOnExec(f *os.File) {}
