//go:build !unix

package ingest

import "io/fs"

// deviceOf is the id of the file system holding a file; this platform gives
// none, so a changed file system is not detected.
func deviceOf(fs.FileInfo) uint64 { return 0 }

// syscallENOTDIR is matched where the platform has it.
var syscallENOTDIR error = fs.ErrNotExist
