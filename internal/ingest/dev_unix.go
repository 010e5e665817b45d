//go:build unix

package ingest

import (
	"io/fs"
	"syscall"
)

// deviceOf is the id of the file system holding a file, 0 when unknown.
func deviceOf(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev) //nolint:unconvert // int32 on some platforms
	}
	return 0
}

// syscallENOTDIR: a path through a file, which EvalSymlinks reports when a
// root's parent was replaced by a file.
var syscallENOTDIR error = syscall.ENOTDIR
