package index

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/gofrs/flock"
)

// Suffixes of the folders a rebuild uses beside the index folder.
const (
	rebuildSuffix = ".reindex"
	oldSuffix     = ".old"
	completeFile  = "REINDEX_COMPLETE"
)

// RebuildDir is where a rebuild of the index in dir is built.
func RebuildDir(dir string) string { return filepath.Clean(dir) + rebuildSuffix }

// Lock takes the write lock of the index in dir without opening it, waiting
// up to wait; for work on the index as a whole, such as a rebuild. The
// returned function releases it.
func Lock(ctx context.Context, dir string, wait time.Duration) (func(), error) {
	if err := ensureDir(dir); err != nil {
		if isReadOnlyErr(err) {
			return nil, &ReadOnlyError{Dir: dir, Err: errors.Unwrap(err)}
		}
		return nil, err
	}
	if !writable(dir) {
		return nil, &ReadOnlyError{Dir: dir, Err: errors.New("this process cannot write to it (mounted read-only?)")}
	}
	lk := flock.New(filepath.Join(dir, LockFile), flock.SetPermissions(0o600))
	ok, err := lk.TryLock()
	if err == nil && !ok && wait > 0 {
		wctx, cancel := context.WithTimeout(ctx, wait)
		ok, err = lk.TryLockContext(wctx, 50*time.Millisecond)
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, context.DeadlineExceeded) {
			err = nil
		}
	}
	if err != nil {
		if isReadOnlyErr(err) {
			return nil, &ReadOnlyError{Dir: dir, Err: err}
		}
		return nil, fmt.Errorf("lock index: %w", err)
	}
	if !ok {
		return nil, ErrLocked
	}
	return func() { lk.Unlock() }, nil
}

// FilePaths lists the files the index holds, sorted.
func (r *Reader) FilePaths() ([]string, error) {
	rows, err := r.tx.Query(`SELECT path FROM files`)
	if err != nil {
		return nil, fmt.Errorf("list indexed files: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("list indexed files: %w", err)
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out, rows.Err()
}

// MarkRebuilt records that the rebuild in RebuildDir(dir) is complete, so a
// swap interrupted by a crash can be finished by Recover.
func MarkRebuilt(dir string) error {
	f, err := os.OpenFile(filepath.Join(RebuildDir(dir), completeFile), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("mark rebuild complete: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return syncDir(RebuildDir(dir))
}

// Swap replaces the index in dir by its completed rebuild: two renames and a
// removal. Readers that opened the old index keep reading it until they close.
func Swap(dir string) error {
	dir = filepath.Clean(dir)
	if err := os.RemoveAll(dir + oldSuffix); err != nil {
		return fmt.Errorf("swap in rebuilt index: %w", err)
	}
	if err := os.Rename(dir, dir+oldSuffix); err != nil {
		return fmt.Errorf("swap in rebuilt index: %w", err)
	}
	if err := os.Rename(RebuildDir(dir), dir); err != nil {
		os.Rename(dir+oldSuffix, dir) // put the old index back
		return fmt.Errorf("swap in rebuilt index: %w", err)
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return err
	}
	os.Remove(filepath.Join(dir, completeFile))
	return os.RemoveAll(dir + oldSuffix)
}

// Recover finishes or undoes a swap that a crash interrupted: when dir is
// missing, a completed rebuild takes its place, else the old index returns.
// Unfinished rebuilds are left for the next rebuild to clear.
func Recover(dir string) error {
	dir = filepath.Clean(dir)
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if _, err := os.Stat(filepath.Join(RebuildDir(dir), completeFile)); err == nil {
		if err := os.Rename(RebuildDir(dir), dir); err != nil {
			return fmt.Errorf("finish interrupted rebuild: %w", err)
		}
		os.Remove(filepath.Join(dir, completeFile))
		return os.RemoveAll(dir + oldSuffix)
	}
	if _, err := os.Stat(dir + oldSuffix); err == nil {
		if err := os.Rename(dir+oldSuffix, dir); err != nil {
			return fmt.Errorf("undo interrupted rebuild: %w", err)
		}
	}
	return nil
}
