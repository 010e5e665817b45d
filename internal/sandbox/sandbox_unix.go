//go:build unix

package sandbox

import (
	"os"
	"os/exec"
	"syscall"
)

// setProcessGroup puts the child in a new process group, so killGroup reaches
// everything it starts.
func setProcessGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}

// killGroup kills the child's process group. The group outlives the child
// while any member lives, so this also reaches orphaned grandchildren.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Process.Kill()
}

func closeOnExec(f *os.File) { syscall.CloseOnExec(int(f.Fd())) }
