package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain turns the test binary into the child when helperEnv names a
// behaviour: the TestHelperProcess pattern, without the test framework.
func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helperChild(mode))
	}
	os.Exit(m.Run())
}

const helperEnv = "RAG_SANDBOX_TEST_CHILD"

// sink keeps allocations alive so the compiler and the GC cannot drop them.
var sink [][]byte

func helperChild(mode string) int {
	out, err := ChildSetup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		return 1
	}
	switch mode {
	case "ok":
		fmt.Println("DEBUG: x") // a library printing to stdout
		fmt.Fprint(out, "result")
	case "sleep":
		fmt.Fprintf(out, "pid %d", os.Getpid())
		out.Close()
		// A grandchild in the same group must die with the child.
		if len(os.Args) > 1 && os.Args[1] == "grandchild" {
			exec.Command("sleep", "1000").Start()
		}
		for {
			time.Sleep(time.Hour)
		}
	case "oom":
		for {
			b := make([]byte, 1<<20)
			for i := range b {
				b[i] = 1
			}
			sink = append(sink, b)
		}
	case "panic":
		panic("boom")
	case "big":
		buf := make([]byte, 1<<16)
		for {
			if _, err := out.Write(buf); err != nil {
				return 1
			}
		}
	case "exit":
		fmt.Fprintln(os.Stderr, "something went wrong")
		return 7
	case "started":
		fmt.Fprint(out, "started")
	}
	out.Close()
	return 0
}

func helper(t *testing.T, mode string, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	return cmd
}

func TestRunReturnsOnlyTheResultPipe(t *testing.T) {
	got, err := Run(context.Background(), helper(t, "ok"), Limits{Timeout: time.Minute, MemoryBytes: 256 << 20, OutputBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "result" {
		t.Errorf("result = %q, want %q (stdout must not leak into it)", got, "result")
	}
}

func TestRunTimeoutKillsTheProcessGroup(t *testing.T) {
	cmd := helper(t, "sleep", "grandchild")
	_, err := Run(context.Background(), cmd, Limits{Timeout: 500 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if want := "timed out after 500ms"; err.Error() != want {
		t.Errorf("message = %q, want %q", err, want)
	}
	assertGroupGone(t, cmd.Process.Pid)
}

// assertGroupGone checks that no process is left in the group pid led.
func assertGroupGone(t *testing.T, pid int) {
	t.Helper()
	// The kill is asynchronous for grandchildren reparented to init; give
	// the kernel a moment, without asserting on how long it takes.
	for range 100 {
		if err := syscall.Kill(-pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("process group %d still has members", pid)
}

func TestRunOutOfMemory(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's shadow memory does not fit under RLIMIT_AS")
	}
	_, err := Run(context.Background(), helper(t, "oom"), Limits{Timeout: 2 * time.Minute, MemoryBytes: 256 << 20})
	if !errors.Is(err, ErrOutOfMemory) {
		t.Fatalf("err = %v, want ErrOutOfMemory", err)
	}
	// "runtime: out of memory: cannot allocate 4194304-byte block (N in use)":
	// the runtime started under the limit and got most of its heap.
	var block, inUse int64
	if _, serr := fmt.Sscanf(err.Error(), "out of memory (runtime: out of memory: cannot allocate %d-byte block (%d in use))", &block, &inUse); serr != nil {
		t.Fatalf("unexpected message %q: %v", err, serr)
	}
	if inUse < 200<<20 {
		t.Errorf("child died with %d MiB in use, want most of the 256 MiB limit", inUse>>20)
	}
	t.Log(err)
}

func TestRunPanic(t *testing.T) {
	_, err := Run(context.Background(), helper(t, "panic"), Limits{Timeout: time.Minute})
	var ce *CrashError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *CrashError", err)
	}
	if ce.Reason != "panic: boom" {
		t.Errorf("Reason = %q, want %q", ce.Reason, "panic: boom")
	}
}

func TestRunExitStatus(t *testing.T) {
	_, err := Run(context.Background(), helper(t, "exit"), Limits{Timeout: time.Minute})
	var ce *CrashError
	if !errors.As(err, &ce) || ce.Reason != "something went wrong" {
		t.Fatalf("err = %v, want a CrashError with the stderr line", err)
	}
}

func TestRunOutputTooLarge(t *testing.T) {
	_, err := Run(context.Background(), helper(t, "big"), Limits{Timeout: time.Minute, OutputBytes: 1 << 20})
	if !errors.Is(err, ErrOutputTooLarge) {
		t.Fatalf("err = %v, want ErrOutputTooLarge", err)
	}
}

func TestRunCancelKillsTheChild(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := helper(t, "sleep")
	go func() {
		time.Sleep(300 * time.Millisecond)
		cancel()
	}()
	// No timeout: only the cancellation can end this Run.
	_, err := Run(ctx, cmd, Limits{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	assertGroupGone(t, cmd.Process.Pid)
}

func TestRunRefusesPreparedStdout(t *testing.T) {
	cmd := helper(t, "ok")
	cmd.Stdout = os.Stdout
	if _, err := Run(context.Background(), cmd, Limits{}); err == nil {
		t.Fatal("Run accepted a command with Stdout set")
	}
}

func TestChildSetupOutsideRun(t *testing.T) {
	t.Setenv(envResult, "")
	if _, err := ChildSetup(); !errors.Is(err, ErrNotChild) {
		t.Fatalf("err = %v, want ErrNotChild", err)
	}
}

func TestCrashLogKeepsTheCrashLine(t *testing.T) {
	var c crashLog
	fmt.Fprintf(&c, "warning: %s\n", strings.Repeat("x", 10000))
	fmt.Fprint(&c, "runtime: out of memory: cannot allocate 4194304-byte block (268435456 in use)\nfatal error: out of memory\n\ngoroutine 1 [running]:\n")
	if got := c.reason(); got != "fatal error: out of memory" {
		t.Errorf("reason = %q", got)
	}
	if !strings.HasPrefix(c.oomLine(), "runtime: out of memory") {
		t.Errorf("oomLine = %q", c.oomLine())
	}
	if len(c.first) > maxLine {
		t.Errorf("first line kept %d bytes, cap is %d", len(c.first), maxLine)
	}
}
