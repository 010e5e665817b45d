// Package sandbox runs a child process under a time limit, a memory limit and
// a cap on the result it returns, so that work on untrusted input (a PDF
// parser that may hang, exhaust memory, panic or print to stdout) costs only
// that child.
//
// The parent builds an *exec.Cmd and calls Run; the child calls ChildSetup
// first thing and writes its result to the file ChildSetup returns (fd 3).
// The child's stdout is discarded, so nothing a library prints can corrupt the
// result or the parent's own stdout; its stderr is only read for the reason of
// a crash.
//
// It does not isolate the child from the file system or the network, and it
// does not decide what the child runs: it is a resource fence, not a security
// boundary. On Unix the child runs in its own process group, which is killed
// as a whole; on Linux the memory limit is also a hard RLIMIT_AS. Elsewhere
// the memory limit is only the Go runtime's soft limit.
package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Limits bounds one child. A zero field means no limit of that kind.
type Limits struct {
	Timeout     time.Duration // wall-clock time from start to exit
	MemoryBytes int64         // memory the child may use (see ChildSetup)
	OutputBytes int64         // bytes the child may write to its result pipe
}

// Environment variables Run passes to the child for ChildSetup.
const (
	envMem    = "RAG_SANDBOX_MEM"    // MemoryBytes, decimal; "0" for none
	envResult = "RAG_SANDBOX_RESULT" // the result pipe's descriptor, always "3"
)

// Errors Run returns; test with errors.Is.
var (
	// ErrTimeout means the child ran longer than Limits.Timeout and was killed.
	ErrTimeout = errors.New("timed out")
	// ErrOutOfMemory means the child died for lack of memory.
	ErrOutOfMemory = errors.New("out of memory")
	// ErrOutputTooLarge means the child wrote more than Limits.OutputBytes to
	// its result pipe and was killed.
	ErrOutputTooLarge = errors.New("output too large")
	// ErrNotChild is returned by ChildSetup in a process not started by Run.
	ErrNotChild = errors.New("not started by sandbox.Run")
)

// CrashError means the child exited abnormally: it panicked, hit a fatal
// runtime error, was killed by a signal or exited with a non-zero status.
type CrashError struct {
	// Reason is the line of the child's stderr that says why ("panic: ...",
	// "fatal error: ..."), else its first line, else the exit status or
	// signal ("signal: segmentation fault", "exit status 1").
	Reason string
}

func (e *CrashError) Error() string { return "crashed: " + e.Reason }

// memHeadroom is added to Limits.MemoryBytes for the hard address-space limit
// (RLIMIT_AS), which counts virtual memory that is not heap: the executable's
// mappings, an 8 MiB stack per thread in cgo builds, and above all the Go
// runtime's address-space reservations (page summaries, scavenger index),
// which it sizes to what the limit allows. Measured on linux/amd64, Go 1.26,
// with a program allocating until it died: under 1000 MiB the runtime
// reserves about 680 MiB and rag (31 MB) cannot start below 790 MiB ("failed
// to reserve page summary memory", "pthread_create failed"); from 1200 MiB up
// it reserves about 1150 MiB (2048 MiB of address space left 868 MiB of heap).
// With 1280 MiB of headroom the heap gets about MemoryBytes + 100 MiB.
const memHeadroom int64 = 1280 << 20

// childProcs caps GOMAXPROCS in a child: one child extracts one file, the
// parent runs several children at once, and every thread costs address space
// under RLIMIT_AS.
const childProcs = 2

// waitDelay bounds how long Run waits for the child's stderr to close
// after the child exits (a grandchild may hold it open).
const waitDelay = 2 * time.Second

// Run starts cmd, waits for it and returns what it wrote to its result pipe,
// the file ChildSetup returns, which Run passes as fd 3.
//
// cmd must not be started and must not set Stdout, Stderr or ExtraFiles: Run
// discards the child's stdout and reads its stderr only for a crash reason.
// Run adds the environment ChildSetup reads to cmd.Env (os.Environ() when
// nil). On timeout, on ctx cancellation or when the output cap is passed, Run
// kills the child and, on Unix, its whole process group.
//
// Errors: ctx.Err() when ctx ends first; ErrTimeout (its message says after
// how long); ErrOutputTooLarge; ErrOutOfMemory; *CrashError for any other
// abnormal exit; other errors when the child cannot be started.
func Run(ctx context.Context, cmd *exec.Cmd, lim Limits) ([]byte, error) {
	if cmd.Process != nil {
		return nil, errors.New("sandbox: command already started")
	}
	if cmd.Stdout != nil || cmd.Stderr != nil || len(cmd.ExtraFiles) > 0 {
		return nil, errors.New("sandbox: command sets Stdout, Stderr or ExtraFiles")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("create result pipe: %w", err)
	}
	defer r.Close()
	cmd.ExtraFiles = []*os.File{w}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, envMem+"="+strconv.FormatInt(max(lim.MemoryBytes, 0), 10), envResult+"=3")
	stderr := &crashLog{}
	cmd.Stderr = stderr
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = waitDelay
	}
	setProcessGroup(cmd)
	err = cmd.Start()
	w.Close() // the child holds its own copy; EOF comes when every copy is closed
	if err != nil {
		return nil, fmt.Errorf("start child: %w", err)
	}

	var once sync.Once
	var why error // the first reason Run killed the child
	kill := func(reason error) {
		once.Do(func() {
			why = reason
			killGroup(cmd)
		})
	}

	type result struct {
		data []byte
		err  error
	}
	out := make(chan result, 1)
	go func() {
		data, err := readCapped(r, lim.OutputBytes)
		if errors.Is(err, ErrOutputTooLarge) {
			kill(ErrOutputTooLarge)
		}
		out <- result{data, err}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	var timeout <-chan time.Time
	if lim.Timeout > 0 {
		t := time.NewTimer(lim.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	var waitErr error
	select {
	case waitErr = <-exited:
	case <-timeout:
		kill(fmt.Errorf("%w after %s", ErrTimeout, formatDuration(lim.Timeout)))
		waitErr = <-exited
	case <-ctx.Done():
		kill(ctx.Err())
		waitErr = <-exited
	}
	// The child is gone; kill whatever it left behind in its group, and stop
	// waiting for a result pipe some escaped grandchild may still hold.
	killGroup(cmd)
	_ = r.SetReadDeadline(time.Now().Add(waitDelay))
	res := <-out

	// Receiving from out ordered this after any kill by the reader.
	switch {
	case why != nil:
		return nil, why
	case waitErr != nil:
		return nil, crashError(waitErr, stderr)
	case res.err != nil:
		return nil, fmt.Errorf("read child result: %w", res.err)
	}
	return res.data, nil
}

// crashError turns an abnormal exit into ErrOutOfMemory or a *CrashError.
func crashError(waitErr error, log *crashLog) error {
	line := log.reason()
	if isOutOfMemory(line) || isOutOfMemory(log.oomLine()) {
		return fmt.Errorf("%w (%s)", ErrOutOfMemory, firstNonEmpty(log.oomLine(), line))
	}
	if line == "" {
		var ee *exec.ExitError
		if errors.As(waitErr, &ee) {
			line = ee.ProcessState.String()
		} else {
			line = waitErr.Error()
		}
	}
	return &CrashError{Reason: line}
}

func isOutOfMemory(line string) bool {
	l := strings.ToLower(line)
	return strings.Contains(l, "out of memory") || strings.Contains(l, "cannot allocate memory") ||
		strings.Contains(l, "bad_alloc")
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// formatDuration prints whole seconds as "30s" rather than Go's "30s"/"1m0s".
func formatDuration(d time.Duration) string {
	if d >= time.Second && d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}

// readCapped reads r to EOF, failing with ErrOutputTooLarge past limit bytes
// (limit <= 0: no cap).
func readCapped(r io.Reader, limit int64) ([]byte, error) {
	if limit <= 0 {
		return io.ReadAll(r)
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if int64(len(data)) > limit {
		return nil, ErrOutputTooLarge
	}
	return data, err
}

// crashLog is the child's stderr as Run keeps it: not all of it, which may be
// huge, but the lines that say why it died.
type crashLog struct {
	mu      sync.Mutex
	partial []byte // the unfinished last line, at most maxLine bytes
	first   string // the first non-empty line
	crash   string // the first "panic: " or "fatal error: " line
	oom     string // the first line that mentions running out of memory
}

const maxLine = 512

func (c *crashLog) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.partial = appendCapped(c.partial, p)
			break
		}
		c.partial = appendCapped(c.partial, p[:i])
		c.line(string(c.partial))
		c.partial = c.partial[:0]
		p = p[i+1:]
	}
	return n, nil
}

func appendCapped(b, p []byte) []byte {
	if room := maxLine - len(b); room < len(p) {
		p = p[:max(room, 0)]
	}
	return append(b, p...)
}

func (c *crashLog) line(s string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return
	}
	if c.first == "" {
		c.first = s
	}
	if c.crash == "" && (strings.HasPrefix(s, "panic: ") || strings.HasPrefix(s, "fatal error: ")) {
		c.crash = s
	}
	if c.oom == "" && isOutOfMemory(s) {
		c.oom = s
	}
}

// reason is the crash line, else the first line.
func (c *crashLog) reason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.partial) > 0 {
		c.line(string(c.partial))
		c.partial = c.partial[:0]
	}
	return firstNonEmpty(c.crash, c.first)
}

func (c *crashLog) oomLine() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.oom
}

// ChildSetup is called first thing in a child started by Run. It applies the
// memory limit Run passed: the Go runtime's soft limit (debug.SetMemoryLimit)
// at Limits.MemoryBytes and, on Linux, a hard address-space limit
// (RLIMIT_AS) at MemoryBytes plus 1280 MiB of headroom for the runtime's own
// virtual mappings; processes the child starts inherit the hard limit. It
// also caps GOMAXPROCS at 2, since every thread costs address space. It returns the result
// pipe, to which the child writes its result and which it should close.
//
// In a process Run did not start it returns ErrNotChild and changes nothing.
func ChildSetup() (*os.File, error) {
	if os.Getenv(envResult) != "3" {
		return nil, ErrNotChild
	}
	mem, err := strconv.ParseInt(os.Getenv(envMem), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("sandbox: bad %s: %w", envMem, err)
	}
	if mem > 0 {
		runtime.GOMAXPROCS(min(childProcs, runtime.GOMAXPROCS(0)))
		debug.SetMemoryLimit(mem)
		if err := limitAddressSpace(mem + memHeadroom); err != nil {
			return nil, fmt.Errorf("sandbox: limit memory: %w", err)
		}
	}
	f := os.NewFile(3, "sandbox-result")
	if f == nil {
		return nil, errors.New("sandbox: no result pipe")
	}
	// Keep the pipe out of processes the child starts, which would otherwise
	// hold it open after the child exits.
	closeOnExec(f)
	return f, nil
}
