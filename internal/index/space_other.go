//go:build !unix

package index

import (
	"errors"
	"io/fs"
)

func freeBytes(string) (int64, bool) { return 0, false }

func writable(string) bool { return true }

func isReadOnlyErr(err error) bool { return errors.Is(err, fs.ErrPermission) }

func isNoSpaceErr(error) bool { return false }
