package index

import (
	"fmt"
	"os"
	"strings"
)

func statFile(p string) (int64, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// ReadOnlyError reports an index folder this process cannot write: a
// read-only mount, or a folder without write permission. Readers work on
// such an index; writers cannot.
type ReadOnlyError struct {
	Dir string
	Err error
}

func (e *ReadOnlyError) Error() string {
	return fmt.Sprintf("the index folder %s is read-only: %v", e.Dir, e.Err)
}

func (e *ReadOnlyError) Unwrap() error { return e.Err }

// DiskFullError reports a commit the disk had no room for. Nothing of that
// commit was kept; what was committed before it is intact.
type DiskFullError struct {
	Dir string
	// Free is the space left on the disk holding Dir, -1 when unknown.
	Free int64
	// Needed estimates what the rest of the run would have written; set by
	// the caller, which knows the work left (0 when unknown).
	Needed int64
	Err    error
}

func (e *DiskFullError) Error() string {
	return fmt.Sprintf("the disk holding the index %s is full: %v", e.Dir, e.Err)
}

func (e *DiskFullError) Unwrap() error { return e.Err }

// diskFull wraps err in a *DiskFullError when it says the disk is full:
// ENOSPC from a vector write, or SQLite's SQLITE_FULL.
func diskFull(dir string, err error) error {
	if err == nil {
		return nil
	}
	if isNoSpaceErr(err) || strings.Contains(err.Error(), "database or disk is full") {
		free, ok := freeBytes(dir)
		if !ok {
			free = -1
		}
		return &DiskFullError{Dir: dir, Free: free, Err: err}
	}
	return err
}

// SizeOnDisk is what the index's own files take, in bytes.
func (w *Writer) SizeOnDisk() int64 {
	var n int64
	for _, p := range []string{dbPath(w.dir), dbPath(w.dir) + "-wal", vecPath(w.dir, w.meta.VecGen)} {
		if fi, err := statFile(p); err == nil {
			n += fi
		}
	}
	return n
}
