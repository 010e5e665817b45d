//go:build unix

package cli_test

import "syscall"

// permissiveUmask lets the scripts show that rag sets its own permissions.
func permissiveUmask() func() {
	old := syscall.Umask(0)
	return func() { syscall.Umask(old) }
}
