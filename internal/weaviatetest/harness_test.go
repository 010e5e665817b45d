//go:build unix

package weaviatetest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// do sends one REST request to n and returns the status and body.
func do(t *testing.T, n *Node, method, path, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, n.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// A node killed with SIGKILL stops answering; restarted on the same ports
// and data folder, it answers again and still has what was written before.
func TestNodeKillRestartKeepsData(t *testing.T) {
	n := Start(t, Options{})
	if code, body := do(t, n, "POST", "/v1/schema", "", `{"class":"Probe","vectorizer":"none"}`); code != 200 {
		t.Fatalf("create class: %d %s", code, body)
	}
	if code, body := do(t, n, "POST", "/v1/objects", "", `{"class":"Probe","id":"00000000-0000-0000-0000-000000000001","properties":{"name":"kept"},"vector":[1,0]}`); code != 200 {
		t.Fatalf("create object: %d %s", code, body)
	}
	n.Kill()
	if n.Running() {
		t.Fatal("node still running after Kill")
	}
	if n.Ready(context.Background()) {
		t.Fatal("killed node still answers")
	}
	if err := n.Restart(); err != nil {
		t.Fatal(err)
	}
	code, body := do(t, n, "GET", "/v1/objects/Probe/00000000-0000-0000-0000-000000000001", "", "")
	if code != 200 || !strings.Contains(body, `"kept"`) {
		t.Fatalf("object after restart: %d %s", code, body)
	}
}

// With an API key, anonymous requests are refused (401) and bearer requests
// accepted.
func TestNodeAPIKey(t *testing.T) {
	n := Start(t, Options{APIKey: "test-key-123"})
	if code, _ := do(t, n, "GET", "/v1/schema", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("anonymous: %d, want 401", code)
	}
	if code, _ := do(t, n, "GET", "/v1/schema", "wrong", ""); code != http.StatusUnauthorized {
		t.Fatalf("wrong key: %d, want 401", code)
	}
	if code, body := do(t, n, "GET", "/v1/schema", "test-key-123", ""); code != 200 {
		t.Fatalf("right key: %d %s", code, body)
	}
}

// Three nodes form one cluster; with one killed the others report it
// unhealthy and keep answering; restarted, it is healthy again.
func TestClusterKillRestart(t *testing.T) {
	c := StartCluster(t, 3, Options{})
	st, err := c.Statuses(context.Background())
	if err != nil || len(st) != 3 {
		t.Fatalf("statuses: %v %v", st, err)
	}
	c.Kill(1)
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := c.Node(0).Statuses(context.Background())
		healthy := 0
		for _, s := range st {
			if s.Status == "HEALTHY" {
				healthy++
			}
		}
		if err == nil && healthy == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after killing node1: %v %v", st, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err := c.Restart(1); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(3, time.Minute); err != nil {
		t.Fatal(err)
	}
}

// A test binary that dies without running its cleanups (a panic in another
// goroutine) does not leave its server behind: the kernel kills it
// (Pdeathsig).
func TestServerDiesWithTestProcess(t *testing.T) {
	if os.Getenv("WEAVIATETEST_CHILD") != "" {
		n := Start(t, Options{})
		os.WriteFile(os.Getenv("WEAVIATETEST_CHILD"), []byte(strconv.Itoa(n.pid())), 0o644)
		go panic("weaviatetest: deliberate panic outside the test goroutine")
		time.Sleep(time.Minute)
		return
	}
	Need(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	cmd := exec.Command(os.Args[0], "-test.run", "^TestServerDiesWithTestProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "WEAVIATETEST_CHILD="+pidFile)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("child test did not fail:\n%s", out)
	}
	b, rerr := os.ReadFile(pidFile)
	if rerr != nil {
		t.Fatalf("child wrote no pid (%v):\n%s", rerr, out)
	}
	pid, _ := strconv.Atoi(string(b))
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("server %d outlived its test process", pid)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (n *Node) pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

func TestMain(m *testing.M) {
	if _, err := Binary(); err != nil && os.Getenv("WEAVIATETEST_CHILD") == "" {
		fmt.Fprintln(os.Stderr, "weaviatetest:", err)
	}
	os.Exit(m.Run())
}
