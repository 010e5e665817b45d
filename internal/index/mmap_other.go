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

func mapFile(path string, size int64) (*mapping, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data := make([]byte, size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return &mapping{data: data}, nil
}

func (m *mapping) close() error { return nil }
