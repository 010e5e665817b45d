//go:build linux || darwin

package walk

import (
	"io/fs"
	"syscall"
)

// sniff reads at most len(buf) bytes from the start of the file at name and
// reports whether they look binary. It uses raw system calls: os.Open would
// also register the file with the network poller, which on Linux costs
// three more system calls per file, a third of a re-ingest's walk.
// O_NONBLOCK keeps a file swapped for a FIFO since the folder was read from
// blocking the walk.
func sniff(name string, buf []byte) (bool, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return false, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer syscall.Close(fd)
	n := 0
	for n < len(buf) {
		m, err := syscall.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return false, &fs.PathError{Op: "read", Path: name, Err: err}
		}
		if m <= 0 {
			break
		}
		n += m
	}
	return IsBinary(buf[:n]), nil
}
