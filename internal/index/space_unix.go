//go:build unix

package index

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// freeBytes is the space left for an unprivileged writer on the file system
// holding dir.
func freeBytes(dir string) (int64, bool) {
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return 0, false
	}
	return int64(st.Bavail) * int64(st.Bsize), true //nolint:unconvert // field types differ by platform
}

// writable reports whether this process may write in dir: false on a
// read-only mount (for root too) or without write permission.
func writable(dir string) bool {
	return unix.Access(dir, unix.W_OK) == nil
}

func isReadOnlyErr(err error) bool {
	return errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
}

func isNoSpaceErr(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
