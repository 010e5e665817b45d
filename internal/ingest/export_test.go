package ingest

import "io/fs"

// SetStat makes a run stat its roots with stat, so tests can give a root
// another device id than the one it has.
func SetStat(o *Options, stat func(string) (fs.FileInfo, error)) { o.stat = stat }

// RootsAway is rootsAway: which recorded roots a reindex takes for another
// machine's.
var RootsAway = rootsAway
