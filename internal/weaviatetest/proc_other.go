//go:build unix && !linux

package weaviatetest

import "syscall"

// sysProcAttr puts the server in its own process group, so Kill reaches it
// and anything it starts.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
