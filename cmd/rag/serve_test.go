package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/ragcli/rag/internal/ollamatest"
)

// syncBuffer is a bytes.Buffer safe for one writer and many readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// served is a running `rag serve` process.
type served struct {
	cmd    *exec.Cmd
	url    string // http://127.0.0.1:PORT
	stderr *syncBuffer
	done   chan struct{} // closed when the process has exited
}

// exitCode waits up to d for the process to end and returns its exit code
// (-1 when it did not end in time: the process is then killed).
func (s *served) exitCode(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-s.done:
		return s.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		s.cmd.Process.Kill()
		<-s.done
		t.Errorf("rag serve still running %s after SIGTERM\nstderr: %s", d, s.stderr)
		return -1
	}
}

// startServe starts the rag binary's serve command and waits until it says
// where it listens. The process is killed when the test ends, if still up.
func startServe(t *testing.T, env []string, args ...string) *served {
	t.Helper()
	cmd := exec.Command(ragBinary(t), append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = env
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &served{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		pw.Close()
		close(s.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	found := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`on (http://127\.0\.0\.1:\d+) \(MCP at /mcp\)`)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.stderr.Write([]byte(sc.Text() + "\n"))
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		close(found)
	}()
	select {
	case u, ok := <-found:
		if !ok {
			t.Fatalf("rag serve ended before it listened\nstderr: %s", s.stderr)
		}
		s.url = u
	case <-time.After(60 * time.Second):
		t.Fatalf("rag serve did not listen within 60 s\nstderr: %s", s.stderr)
	}
	return s
}

// serveFixture is a fake Ollama with both models and an ingested folder.
func serveFixture(t *testing.T, files map[string]string) (fake *ollamatest.Server, env []string, notes string) {
	t.Helper()
	fake = ollamatest.New(t, embedModel(), ollamatest.Model{Name: "llama3.2", ContextLength: 8192})
	home := t.TempDir()
	notes = filepath.Join(home, "notes")
	os.MkdirAll(notes, 0o755)
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(notes, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env = ragEnv(t, home, filepath.Join(home, "index"), fake.URL)
	if r := rag(t, env, "ingest", "--quiet", notes); r.code != 0 {
		t.Fatalf("ingest: %s", r)
	}
	return fake, env, notes
}

var keyNotes = map[string]string{"keys.md": "# Keys\n\nRotate the signing key with keyctl rotate.\n"}

// TestServeSIGTERMDrains sends a real SIGTERM to `rag serve` while a slow
// answer streams from POST /v1/ask: the answer is written to its end (the
// done line), new connections are refused meanwhile, and the process exits
// 0. With a drain deadline shorter than the answer, the answer is cut off at
// the deadline (no done line) and the process says so and exits 0.
func TestServeSIGTERMDrains(t *testing.T) {
	fake, env, _ := serveFixture(t, keyNotes)
	reply := "Rotate it with keyctl rotate [1], then restart the service, and check the logs for the new key id [1]."
	fake.SetChatReply(func(api.ChatRequest) string { return reply })
	fake.SetChunkDelay(150 * time.Millisecond) // 3 words a piece: about 1.5 s in all

	for _, tc := range []struct {
		name     string
		drain    string
		complete bool
		code     int
	}{
		{"drained", "30s", true, 0},
		{"cut at the drain deadline", "300ms", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServe(t, env, "--drain", tc.drain)
			resp, err := http.Post(s.url+"/v1/ask", "application/json", strings.NewReader(`{"question": "how do I rotate the signing key?"}`))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			lines := bufio.NewScanner(resp.Body)
			if !lines.Scan() || !strings.Contains(lines.Text(), `"delta"`) {
				t.Fatalf("first line %q: want a delta", lines.Text())
			}
			if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			// New connections are refused once the server has taken the
			// signal (the listener is closed at once, not after the drain).
			addr := strings.TrimPrefix(s.url, "http://")
			refused := false
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					refused = true
					break
				}
				c.Close()
			}
			if !refused {
				t.Error("new connections still accepted 10 s after SIGTERM")
			}
			var answer strings.Builder
			done := false
			for lines.Scan() {
				var l struct {
					Delta string
					Done  *struct{ Answer string }
				}
				if err := json.Unmarshal(lines.Bytes(), &l); err != nil {
					t.Fatalf("line %q: %v", lines.Text(), err)
				}
				answer.WriteString(l.Delta)
				if l.Done != nil {
					done = l.Done.Answer == reply
				}
			}
			if done != tc.complete {
				t.Errorf("the in-flight answer ended with done=%v (streamed %q), want %v", done, answer.String(), tc.complete)
			}
			if code := s.exitCode(t, 30*time.Second); code != tc.code {
				t.Errorf("exit %d after SIGTERM, want %d\nstderr: %s", code, tc.code, s.stderr)
			}
			if !tc.complete && !strings.Contains(s.stderr.String(), "rag: warning: requests still running were cut off after the 300ms drain") {
				t.Errorf("stderr does not say the answer was cut off: %s", s.stderr)
			}
		})
	}
}

// TestServeWatch runs `rag serve --watch` on a folder: a file written there
// becomes searchable through POST /v1/search within seconds, and once it is
// deleted it is no longer found.
func TestServeWatch(t *testing.T) {
	_, env, notes := serveFixture(t, keyNotes)
	s := startServe(t, env, "--watch", notes, "--debounce", "100ms")
	search := func() string {
		resp, err := http.Post(s.url+"/v1/search", "application/json", strings.NewReader(`{"query": "zymurgy fermentation", "k": 5, "mode": "lexical"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("search: %d %s", resp.StatusCode, b)
		}
		return string(b)
	}
	// poll waits up to 30 s for the search to find (or no longer find) the
	// new file.
	poll := func(want bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			got := strings.Contains(search(), "brewing.md")
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 30 s the search still finds the file: %v (want %v)\nstderr: %s", got, want, s.stderr)
			}
		}
	}
	if strings.Contains(search(), "brewing.md") {
		t.Fatal("found before it was written")
	}
	// Wait for the watch to be set up: its first ingest has run by the time
	// it reports (the folder was ingested already, so that one is a no-op).
	time.Sleep(500 * time.Millisecond)
	p := filepath.Join(notes, "brewing.md")
	if err := os.WriteFile(p, []byte("# Brewing\n\nZymurgy is the study of fermentation.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	poll(true)
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	poll(false)
	if !strings.Contains(search(), `"results":[]`) {
		t.Errorf("after the delete: %s", search())
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	if code := s.exitCode(t, 30*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM\nstderr: %s", code, s.stderr)
	}
}
