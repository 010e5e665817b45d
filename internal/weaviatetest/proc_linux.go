package weaviatetest

import "syscall"

// sysProcAttr puts the server in its own process group and has the kernel
// kill it when the thread that started it dies, so a test binary that dies
// without its cleanups does not leave servers behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
