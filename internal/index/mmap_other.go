//go:build !unix

package index

import (
	"fmt"
	"io"
	"os"
)

// mapping holds the first size bytes of a file. Where rag has no mmap it
// reads them; slower, the same results.
type mapping struct{ data []byte }

func mapFile(f *os.File, size int64) (*mapping, error) {
	data := make([]byte, size)
	if _, err := f.ReadAt(data, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	return &mapping{data: data}, nil
}

func (m *mapping) close() error { return nil }
