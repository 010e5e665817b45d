//go:build unix

package index

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// mapping is a read-only memory map of the first size bytes of a file.
type mapping struct{ data []byte }

func mapFile(f *os.File, size int64) (*mapping, error) {
	path := f.Name()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() < size {
		return nil, fmt.Errorf("%s is shorter than the index says (%d < %d bytes): run rag check", path, fi.Size(), size)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, mmapFlags)
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", path, err)
	}
	return &mapping{data: data}, nil
}

func (m *mapping) close() error { return unix.Munmap(m.data) }
