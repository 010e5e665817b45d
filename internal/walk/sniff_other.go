//go:build !(linux || darwin)

package walk

import (
	"io"
	"os"
)

// sniff reads at most len(buf) bytes from the start of the file at name and
// reports whether they look binary.
func sniff(name string, buf []byte) (bool, error) {
	f, err := os.Open(name)
	if err != nil {
		return false, err
	}
	defer f.Close()
	n, err := io.ReadFull(f, buf)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return false, err
	}
	return IsBinary(buf[:n]), nil
}
