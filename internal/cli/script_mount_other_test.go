//go:build !linux

package cli_test

import "github.com/rogpeppe/go-internal/testscript"

func init() {
	none := func(ts *testscript.TestScript, neg bool, args []string) {
		ts.Fatalf("mount is only driven on Linux: guard the script with [!mount] skip")
	}
	registerCmd("mount", none)
	registerCmd("umount", none)
	extraConds["mount"] = func() bool { return false }
}
