package cli_test

import (
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	registerCmd("mount", cmdMount)
	registerCmd("umount", cmdUmount)
	extraConds["mount"] = canMount
}

var canMountOnce = sync.OnceValue(func() bool {
	dir, err := os.MkdirTemp("", "rag-mount-probe")
	if err != nil {
		return false
	}
	defer os.Remove(dir)
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		return false
	}
	syscall.Unmount(dir, syscall.MNT_DETACH)
	return true
})

// canMount is the condition [mount]: this process may mount file systems
// (root, outside a restricted container). Scripts that need it start with
// [!mount] skip.
func canMount() bool { return canMountOnce() }

// cmdMount mounts a file system for the script (guard it with [!mount] skip):
//
//	mount tmpfs DIR [SIZE]   a fresh tmpfs (SIZE such as 1m)
//	mount ro DIR             remount DIR's file system read-only
//	mount rw DIR             and read-write again
//
// Every mount is undone when the script ends.
func cmdMount(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: mount tmpfs|ro|rw DIR [SIZE]")
	}
	dir := ts.MkAbs(args[1])
	var err error
	switch args[0] {
	case "tmpfs":
		data := "mode=0755"
		if len(args) > 2 {
			data += ",size=" + args[2]
		}
		err = syscall.Mount("tmpfs", dir, "tmpfs", 0, data)
		if err == nil {
			ts.Defer(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
		}
	case "ro":
		err = syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_RDONLY, "")
	case "rw":
		err = syscall.Mount("", dir, "", syscall.MS_REMOUNT, "")
	default:
		ts.Fatalf("unknown mount kind %q", args[0])
	}
	ts.Check(err)
}

// cmdUmount unmounts DIR: umount DIR.
func cmdUmount(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: umount DIR")
	}
	err := syscall.Unmount(ts.MkAbs(args[0]), 0)
	if err != nil && strings.Contains(err.Error(), "busy") {
		err = syscall.Unmount(ts.MkAbs(args[0]), syscall.MNT_DETACH)
	}
	ts.Check(err)
}
