package walk

import (
	"path/filepath"
	"strings"
)

// Included reports whether the file e, as Walk found it, matches one of the
// Include patterns. The user then asked for it by name, so later checks that
// would leave it out for what it holds (ingest finding a private key in it)
// do not apply either.
func Included(patterns []string, e Entry) bool {
	rel := []string{filepath.Base(e.Path)}
	if e.Root != e.Path {
		r, err := filepath.Rel(e.Root, e.Path)
		if err != nil {
			return false
		}
		rel = strings.Split(filepath.ToSlash(r), "/")
	}
	return newIncludeSet(patterns).match(rel, false)
}
