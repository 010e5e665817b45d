//go:build linux

package index

import "golang.org/x/sys/unix"

// mmapFlags prefaults the whole mapping in one system call: a search reads
// every vector anyway, and one populate is cheaper than a fault per page.
const mmapFlags = unix.MAP_SHARED | unix.MAP_POPULATE
