package sandbox

import "syscall"

// limitAddressSpace sets RLIMIT_AS, which the kernel enforces on every mmap
// and brk: an allocation past it fails, and the Go runtime then dies with
// "fatal error: out of memory" instead of taking the machine down.
func limitAddressSpace(n int64) error {
	lim := &syscall.Rlimit{Cur: uint64(n), Max: uint64(n)}
	return syscall.Setrlimit(syscall.RLIMIT_AS, lim)
}
