package ollamareal

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/cli"
	"github.com/ragcli/rag/internal/iostreams"
	"github.com/ragcli/rag/internal/ollamatest"
	"github.com/ragcli/rag/internal/shareddata"
)

// The server every test shares, nil when it is not running; skipReason then
// says why.
var (
	srv        *server
	skipReason string
)

func TestMain(m *testing.M) {
	mode := os.Getenv("RAG_TEST_OLLAMA")
	if mode == "" {
		skipReason = "set RAG_TEST_OLLAMA=1 (make test-ollama) to test against a real Ollama server"
		os.Exit(m.Run())
	}
	var err error
	srv, err = startServer()
	if err != nil {
		skipReason = "no real Ollama server: " + err.Error()
		fmt.Fprintln(os.Stderr, "ollamareal: "+skipReason)
		if mode == "require" {
			os.Exit(1)
		}
		os.Exit(m.Run())
	}
	code := m.Run()
	srv.stop()
	if code == 0 && os.Getenv("RAG_TEST_OLLAMA_KEEP") == "" {
		os.RemoveAll(srv.dir)
	}
	os.Exit(code)
}

// need returns the running server, or skips t.
func need(t *testing.T) *server {
	t.Helper()
	if srv == nil {
		t.Skip(skipReason)
	}
	return srv
}

// figure records a measured number for the report: in the test log and in
// $RAG_TEST_FIGURES when set.
func figure(t *testing.T, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf(format, args...)
	t.Log("FIGURE " + line)
	if p := os.Getenv("RAG_TEST_FIGURES"); p != "" {
		if f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintf(f, "%s: %s\n", t.Name(), line)
			f.Close()
		}
	}
}

// server is a real `ollama serve` this package started, with its own HOME,
// OLLAMA_MODELS and log under dir.
type server struct {
	bin  string
	dir  string
	host string // http://127.0.0.1:PORT
	addr string // 127.0.0.1:PORT
	mu   sync.Mutex
	pid  int
	cmd  *exec.Cmd // set once restarted by this process; nil for serve.sh's
}

// tinymodelsDir is ../shared/tinymodels beside the module, or RAG_TINYMODELS,
// or the tinymodels folder beside RAG_SHARED_DATA.
func tinymodelsDir() (string, error) {
	var cands []string
	if d := os.Getenv("RAG_TINYMODELS"); d != "" {
		cands = append(cands, d)
	}
	if d := os.Getenv("RAG_SHARED_DATA"); d != "" {
		cands = append(cands, filepath.Join(d, "..", "tinymodels"))
	}
	if root, err := shareddata.ModuleRoot(); err == nil {
		cands = append(cands, filepath.Join(root, "..", "shared", "tinymodels"))
	}
	cands = append(cands, "/work/shared/tinymodels")
	for _, d := range cands {
		if _, err := os.Stat(filepath.Join(d, "serve.sh")); err == nil {
			return filepath.Abs(d)
		}
	}
	return "", fmt.Errorf("the tinymodels tool is not in %s (set RAG_TINYMODELS)", strings.Join(cands, ", "))
}

// cacheDir is where the built server and the generated models are kept
// between runs: ${RAG_TEST_CACHE:-$HOME/.cache/rag-test}.
func cacheDir() string {
	if d := os.Getenv("RAG_TEST_CACHE"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "rag-test")
}

// ensureBinary returns the cached Ollama binary, building it once.
func ensureBinary(tools string) (string, error) {
	bin := filepath.Join(cacheDir(), "ollama-"+ollamatest.Version)
	if fi, err := os.Stat(bin); err == nil && fi.Mode()&0o111 != 0 {
		return bin, nil
	}
	for _, tool := range []string{"gcc", "g++"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", fmt.Errorf("%s not found (install build-essential) to build Ollama", tool)
		}
	}
	if err := os.MkdirAll(cacheDir(), 0o755); err != nil {
		return "", err
	}
	start := time.Now()
	log, err := os.Create(filepath.Join(cacheDir(), "build.log"))
	if err != nil {
		return "", err
	}
	defer log.Close()
	cmd := exec.Command(filepath.Join(tools, "build-ollama.sh"), bin+".tmp")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build Ollama: %v (see %s)", err, log.Name())
	}
	fmt.Fprintf(os.Stderr, "ollamareal: built %s in %s\n", bin, time.Since(start).Round(time.Second))
	return bin, os.Rename(bin+".tmp", bin)
}

// startServer builds (once) and starts the server with serve.sh, reusing
// cached GGUF files keyed on the generator's source.
func startServer() (*server, error) {
	tools, err := tinymodelsDir()
	if err != nil {
		return nil, err
	}
	bin, err := ensureBinary(tools)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ollamareal-")
	if err != nil {
		return nil, err
	}
	// The models are deterministic: generate them once per version of the tool.
	src, err := os.ReadFile(filepath.Join(tools, "main.go"))
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(src)
	gguf := filepath.Join(cacheDir(), "gguf-"+hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(filepath.Join(dir, "gguf"), 0o755); err != nil {
		return nil, err
	}
	for _, f := range []string{"tiny-minilm.gguf", "tiny-llama.gguf"} {
		if b, err := os.ReadFile(filepath.Join(gguf, f)); err == nil {
			os.WriteFile(filepath.Join(dir, "gguf", f), b, 0o644)
		}
	}
	start := time.Now()
	cmd := exec.Command(filepath.Join(tools, "serve.sh"), "start")
	cmd.Env = append(os.Environ(), "OLLAMA_BIN="+bin, "TINYMODELS_DIR="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("serve.sh start: %v: %s", err, stderr.String())
	}
	s := &server{bin: bin, dir: dir}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "OLLAMA_HOST":
			s.host = v
		case "OLLAMA_PID":
			s.pid, _ = strconv.Atoi(v)
		}
	}
	if s.host == "" || s.pid == 0 {
		return nil, fmt.Errorf("serve.sh start said %q", out)
	}
	s.addr = strings.TrimPrefix(s.host, "http://")
	reap(s.pid)
	fmt.Fprintf(os.Stderr, "ollamareal: server %s (pid %d) ready in %s\n", s.host, s.pid, time.Since(start).Round(100*time.Millisecond))
	if _, err := os.Stat(gguf); err != nil {
		os.MkdirAll(gguf, 0o755)
		for _, f := range []string{"tiny-minilm.gguf", "tiny-llama.gguf"} {
			if b, err := os.ReadFile(filepath.Join(dir, "gguf", f)); err == nil {
				os.WriteFile(filepath.Join(gguf, f), b, 0o644)
			}
		}
	}
	return s, nil
}

func (s *server) env() []string {
	return append(os.Environ(), "HOME="+filepath.Join(s.dir, "home"), "OLLAMA_HOST="+s.addr,
		"OLLAMA_MODELS="+filepath.Join(s.dir, "models"), "OLLAMA_NOPRUNE=1")
}

// stop ends the server (SIGTERM, which stops its runners; SIGKILL after 5 s).
func (s *server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pid == 0 {
		return
	}
	p, err := os.FindProcess(s.pid)
	if err == nil {
		p.Signal(syscall.SIGTERM)
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) && alive(s.pid) {
			time.Sleep(50 * time.Millisecond)
		}
		if alive(s.pid) {
			p.Kill()
		}
	}
	if s.cmd != nil {
		s.cmd.Wait()
		s.cmd = nil
	}
	s.pid = 0
}

// reap ties the server's life to this test process: a detached watchdog
// stops the server (SIGTERM, which stops its runners; SIGKILL 5 s later)
// once the test binary is gone, however it ended (a panic, -timeout, kill -9),
// so no run leaves an ollama serve behind. It does nothing if the server
// stopped first (the pid no longer names an ollama process).
func reap(server int) {
	script := fmt.Sprintf(`while kill -0 %d 2>/dev/null; do sleep 1; done
grep -qa ollama /proc/%d/cmdline 2>/dev/null || exit 0
kill -TERM %d; sleep 5; kill -KILL %d 2>/dev/null`, os.Getpid(), server, server, server)
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err == nil {
		cmd.Process.Release()
	}
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// A zombie (state Z) has exited.
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// restart starts the server again on the same address, models and log.
func (s *server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pid != 0 {
		return errors.New("already running")
	}
	log, err := os.OpenFile(s.logPath(), os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(s.bin, "serve")
	cmd.Env = s.env()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd, s.pid = cmd, cmd.Process.Pid
	reap(s.pid)
	for range 200 {
		if resp, err := http.Get(s.host + "/api/version"); err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("restarted server does not answer")
}

// ollama runs the ollama CLI against the server.
func (s *server) ollama(args ...string) (string, error) {
	cmd := exec.Command(s.bin, args...)
	cmd.Env = s.env()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// create (re)creates a model with serve.sh's Modelfile.
func (s *server) create(model string) error {
	out, err := s.ollama("create", model, "-f", filepath.Join(s.dir, "gguf", "Modelfile."+model))
	if err != nil {
		return fmt.Errorf("ollama create %s: %v: %s", model, err, out)
	}
	return nil
}

func (s *server) logPath() string { return filepath.Join(s.dir, "server.log") }

// logSize is the log's current length, to read what follows with logSince.
func (s *server) logSize() int64 {
	fi, err := os.Stat(s.logPath())
	if err != nil {
		return 0
	}
	return fi.Size()
}

func (s *server) logSince(off int64) string {
	b, _ := os.ReadFile(s.logPath())
	if off > int64(len(b)) {
		return ""
	}
	return string(b[off:])
}

// runners lists the server's model runner processes.
func (s *server) runners() []int {
	s.mu.Lock()
	parent := s.pid
	s.mu.Unlock()
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		_, rest, _ := strings.Cut(string(stat), ") ")
		f := strings.Fields(rest)
		if len(f) < 2 || f[1] != strconv.Itoa(parent) || f[0] == "Z" {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if bytes.Contains(cmdline, []byte("runner")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killRunners kills every model runner with SIGKILL, as a crash would.
func (s *server) killRunners() int {
	n := 0
	for _, pid := range s.runners() {
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}

// peakRSS is a process's peak resident memory (VmHWM), in MB.
func peakRSS(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return float64(kb) / 1024
		}
	}
	return 0
}

// unload makes the server drop both models, so the next call loads them.
func (s *server) unload(t *testing.T) {
	t.Helper()
	for _, body := range []string{
		`{"model":"all-minilm","input":[],"keep_alive":0}`,
	} {
		resp, err := http.Post(s.host+"/api/embed", "application/json", strings.NewReader(body))
		if err == nil {
			resp.Body.Close()
		}
	}
	resp, err := http.Post(s.host+"/api/generate", "application/json", strings.NewReader(`{"model":"llama3.2","keep_alive":0}`))
	if err == nil {
		resp.Body.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(s.runners()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
}

// post sends a JSON request and decodes the (last) JSON answer into out.
func post(t *testing.T, host, path string, body any, out any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(host+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		json.Unmarshal(data, out)
	}
	return resp.StatusCode
}

// ragResult is one rag run.
type ragResult struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// rag runs the CLI in-process with HOME in dir, OLLAMA_HOST at host and the
// extra environment given as KEY=VALUE words.
func rag(t *testing.T, host, dir string, env []string, args ...string) ragResult {
	t.Helper()
	return ragCtx(context.Background(), t, host, dir, env, args...)
}

func ragCtx(ctx context.Context, t *testing.T, host, dir string, env []string, args ...string) ragResult {
	t.Helper()
	vars := map[string]string{
		"HOME":            filepath.Join(dir, "home"),
		"XDG_DATA_HOME":   filepath.Join(dir, "home", ".local", "share"),
		"XDG_CONFIG_HOME": filepath.Join(dir, "home", ".config"),
		"OLLAMA_HOST":     host,
		"PATH":            os.Getenv("PATH"),
		"TMPDIR":          os.TempDir(),
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	var out, errb syncBuffer
	start := time.Now()
	code := cli.Main(ctx, args, iostreams.Test(strings.NewReader(""), &out, &errb), func(k string) string { return vars[k] })
	r := ragResult{code: code, stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	t.Logf("rag %s: exit %d in %s\n%s", strings.Join(args, " "), code, r.took.Round(time.Millisecond), indent(r.stderr))
	return r
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// syncBuffer is a bytes.Buffer safe for the wait notices' goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// proxy is a transparent reverse proxy in front of the real server: it
// counts requests, measures the time with an embedding request in flight, and
// calls onLine for every line of a streamed /api/chat answer, so a test can
// act (kill the runner) at a chosen point of real traffic.
type proxy struct {
	URL string

	mu       sync.Mutex
	calls    map[string]int
	inFlight int
	busy     time.Duration
	since    time.Time
	onLine   func(n int)
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	u, _ := url.Parse(target)
	p := &proxy{calls: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.URL.Path == "/api/chat" {
			p.mu.Lock()
			fn := p.onLine
			p.mu.Unlock()
			if fn != nil {
				resp.Body = &lineCounter{r: resp.Body, fn: fn}
			}
		}
		return nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		embed := r.URL.Path == "/api/embed"
		p.mu.Lock()
		p.calls[r.URL.Path]++
		if embed {
			if p.inFlight == 0 {
				p.since = time.Now()
			}
			p.inFlight++
		}
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
		if embed {
			p.mu.Lock()
			p.inFlight--
			if p.inFlight == 0 {
				p.busy += time.Since(p.since)
			}
			p.mu.Unlock()
		}
	})}
	go hs.Serve(l)
	t.Cleanup(func() { hs.Close() })
	p.URL = "http://" + l.Addr().String()
	return p
}

func (p *proxy) count(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[path]
}

// embedBusy is the wall time during which at least one /api/embed request
// was in flight.
func (p *proxy) embedBusy() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.busy
}

func (p *proxy) setOnLine(fn func(n int)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onLine = fn
}

type lineCounter struct {
	r  io.ReadCloser
	fn func(int)
	n  int
}

func (l *lineCounter) Read(b []byte) (int, error) {
	n, err := l.r.Read(b)
	for _, c := range b[:n] {
		if c == '\n' {
			l.n++
			l.fn(l.n)
		}
	}
	return n, err
}

func (l *lineCounter) Close() error { return l.r.Close() }
