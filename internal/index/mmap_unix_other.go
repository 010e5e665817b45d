//go:build unix && !linux

package index

import "golang.org/x/sys/unix"

const mmapFlags = unix.MAP_SHARED
