//go:build unix

package weaviatetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Options configure the nodes a test starts.
type Options struct {
	// APIKey, when set, turns anonymous access off: every request needs
	// "Authorization: Bearer APIKey".
	APIKey string
	// Env adds NAME=value settings to the server's environment (after the
	// harness's own, so they win).
	Env []string
	// ReadyTimeout bounds the wait for /v1/.well-known/ready; 2 minutes
	// when zero (a cluster waits for its peers to elect a leader).
	ReadyTimeout time.Duration
	// Dir, when set, keeps a cluster's data (and its ports, in
	// Dir/ports.json) across test runs instead of in a temporary folder,
	// so a long benchmark that was interrupted finds its collections
	// again. Only StartCluster reads it.
	Dir string
}

// Node is one Weaviate server process this package started. Its ports and
// data folder stay the same across Kill and Restart, so a restarted node
// comes back as the same cluster member with its data.
type Node struct {
	// Name is the node's cluster name (CLUSTER_HOSTNAME).
	Name string
	// HTTPAddr and GRPCAddr are the REST and gRPC listen addresses,
	// 127.0.0.1:PORT.
	HTTPAddr, GRPCAddr string
	// APIKey is the key the node requires, "" when anonymous access is on.
	APIKey string
	// Dir holds the node's data (PERSISTENCE_DATA_PATH) and its log.
	Dir string
	// GossipAddr is the node's memberlist address.
	GossipAddr string

	tb      testing.TB
	bin     string
	env     []string
	timeout time.Duration

	// join, when set, gives CLUSTER_JOIN for the next start: the gossip
	// addresses of the cluster's other running nodes.
	join func() string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	runs int
}

// ports are the six consecutive loopback ports of one node: REST, gRPC,
// gossip, cluster data, Raft and Raft's internal RPC. Weaviate derives a
// local peer's RPC port as its Raft port + 1, so those two must be
// adjacent; the others are kept together for simplicity.
type ports struct{ http, grpc, gossip, data, raft, rpc int }

func (p ports) list() []int { return []int{p.http, p.grpc, p.gossip, p.data, p.raft, p.rpc} }

// Ports are handed out in blocks of six, aligned on portLow, from below
// the kernel's ephemeral range when there is room: a killed node's ports
// stay free until its restart, and an ephemeral port (any process's
// outgoing connection) or another test process's node could otherwise
// take one meanwhile. Both happened in one run of two suites side by
// side: node2 could not restart ("bind: address already in use" on its
// gossip port, 34613 and 39286). Each block is also locked (flock on a
// file in the temporary folder, held until the process exits), so test
// processes running at once (go test runs packages in parallel) never
// hand out the same block.
const portLow = 20000

var (
	portMu    sync.Mutex
	portHigh  = ephemeralLow()
	portNext  = -1
	portLocks []*os.File // held for the life of the process
)

// ephemeralLow is where the kernel's ephemeral ports start (Linux's
// ip_local_port_range), or 60000 when that leaves no room below it.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768 // Linux's and the BSDs' lower bounds are at or above it
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil || lo-portLow < 600 {
		return 60000
	}
	return lo
}

// lockBlock takes the lock of the port block at base, false when another
// process holds it.
func lockBlock(base int) (*os.File, bool) {
	dir := filepath.Join(os.TempDir(), "weaviatetest-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, true // no folder to lock in: the listen checks still apply
	}
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(base)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, true
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false
	}
	return f, true
}

// freePorts finds six consecutive ports that nothing listens on, neither on
// loopback nor on all interfaces (Weaviate's gRPC servers bind ":PORT"),
// in a block no other test process holds. Ports handed out by this process
// are never handed out again.
func freePorts() (ports, error) {
	portMu.Lock()
	defer portMu.Unlock()
	blocks := (portHigh - portLow) / 6
	if portNext < 0 {
		portNext = os.Getpid() % blocks
	}
	for tries := 0; tries < min(blocks, 400); tries++ {
		base := portLow + 6*portNext
		portNext = (portNext + 1) % blocks
		lock, ok := lockBlock(base)
		if !ok {
			continue
		}
		var held []net.Listener
		for p := base; p < base+6 && ok; p++ {
			l, err := net.Listen("tcp", ":"+strconv.Itoa(p))
			if err != nil {
				ok = false
				break
			}
			held = append(held, l)
			// memberlist also needs the UDP side of the gossip port.
			if u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p)); err != nil {
				ok = false
			} else {
				u.Close()
			}
		}
		for _, l := range held {
			l.Close()
		}
		if !ok {
			if lock != nil {
				lock.Close()
			}
			continue
		}
		if lock != nil {
			portLocks = append(portLocks, lock)
		}
		return ports{base, base + 1, base + 2, base + 3, base + 4, base + 5}, nil
	}
	return ports{}, errors.New("no six consecutive free ports found")
}

// Start runs a single-node Weaviate for the test and stops it (killing its
// process group) when the test ends. It skips the test when there is no
// server binary (see Need).
func Start(tb testing.TB, opts Options) *Node {
	tb.Helper()
	bin := Need(tb)
	p, err := freePorts()
	if err != nil {
		tb.Fatal(err)
	}
	n := newNode(tb, bin, "node0", tb.TempDir(), p, opts)
	n.env = append(n.env, "RAFT_BOOTSTRAP_EXPECT=1", fmt.Sprintf("RAFT_JOIN=%s:%d", n.Name, p.raft))
	n.env = append(n.env, opts.Env...)
	tb.Cleanup(n.Kill)
	if err := n.start(); err != nil {
		tb.Fatal(err)
	}
	if err := n.WaitReady(); err != nil {
		tb.Fatal(err)
	}
	return n
}

func newNode(tb testing.TB, bin, name, dir string, p ports, opts Options) *Node {
	n := &Node{
		Name:       name,
		HTTPAddr:   "127.0.0.1:" + strconv.Itoa(p.http),
		GRPCAddr:   "127.0.0.1:" + strconv.Itoa(p.grpc),
		APIKey:     opts.APIKey,
		Dir:        dir,
		GossipAddr: "127.0.0.1:" + strconv.Itoa(p.gossip),
		tb:         tb,
		bin:        bin,
		timeout:    opts.ReadyTimeout,
	}
	if n.timeout == 0 {
		n.timeout = 2 * time.Minute
	}
	n.env = []string{
		"PERSISTENCE_DATA_PATH=" + filepath.Join(dir, "data"),
		"DEFAULT_VECTORIZER_MODULE=none",
		"ENABLE_MODULES=",
		"GRPC_PORT=" + strconv.Itoa(p.grpc),
		"CLUSTER_HOSTNAME=" + name,
		"CLUSTER_IN_LOCALHOST=true",
		"CLUSTER_BIND_ADDR=127.0.0.1",
		"CLUSTER_GOSSIP_BIND_PORT=" + strconv.Itoa(p.gossip),
		"CLUSTER_DATA_BIND_PORT=" + strconv.Itoa(p.data),
		"RAFT_PORT=" + strconv.Itoa(p.raft),
		"RAFT_INTERNAL_RPC_PORT=" + strconv.Itoa(p.rpc),
		// Nothing may leave the machine: no telemetry, no profiling
		// server on :6060 of every interface.
		"DISABLE_TELEMETRY=true",
		"GO_PROFILING_DISABLE=true",
		"PROMETHEUS_MONITORING_ENABLED=false",
		"LOG_LEVEL=info",
		"LOG_FORMAT=text",
		"QUERY_DEFAULTS_LIMIT=25",
		"QUERY_MAXIMUM_RESULTS=100000",
		// Two cores are shared by several test processes.
		"GOMAXPROCS=2",
		"LIMIT_RESOURCES=true",
		"HOME=" + dir,
		"PATH=" + os.Getenv("PATH"),
		"TMPDIR=" + dir,
	}
	if opts.APIKey != "" {
		n.env = append(n.env,
			"AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED=false",
			"AUTHENTICATION_APIKEY_ENABLED=true",
			"AUTHENTICATION_APIKEY_ALLOWED_KEYS="+opts.APIKey,
			"AUTHENTICATION_APIKEY_USERS=rag-test",
		)
	} else {
		n.env = append(n.env, "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED=true")
	}
	return n
}

// URL is the node's REST endpoint, http://127.0.0.1:PORT.
func (n *Node) URL() string { return "http://" + n.HTTPAddr }

// StoreURL is rag's store URL of collection on this node, its gRPC
// endpoint named: weaviate://127.0.0.1:PORT/COLLECTION?grpc=127.0.0.1:PORT.
func (n *Node) StoreURL(collection string) string {
	return "weaviate://" + n.HTTPAddr + "/" + collection + "?grpc=" + n.GRPCAddr
}

// LogPath is the file the node's stdout and stderr go to (all runs).
func (n *Node) LogPath() string { return filepath.Join(n.Dir, "weaviate.log") }

// LogTail returns the last lines of the node's log, for failure messages.
func (n *Node) LogTail(lines int) string {
	b, _ := os.ReadFile(n.LogPath())
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

func (n *Node) start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		return fmt.Errorf("weaviate %s is already running", n.Name)
	}
	if err := os.MkdirAll(n.Dir, 0o755); err != nil {
		return err
	}
	log, err := os.OpenFile(n.LogPath(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	n.runs++
	fmt.Fprintf(log, "=== weaviatetest: start %d of %s\n", n.runs, n.Name)
	_, port, _ := net.SplitHostPort(n.HTTPAddr)
	cmd := exec.Command(n.bin, "--scheme", "http", "--host", "127.0.0.1", "--port", port,
		"--read-timeout=600s", "--write-timeout=600s")
	cmd.Env = n.env
	if n.join != nil {
		if j := n.join(); j != "" {
			cmd.Env = append(append([]string(nil), n.env...), "CLUSTER_JOIN="+j)
		}
	}
	cmd.Dir = n.Dir
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group, so Kill reaches anything it starts; and
	// killed by the kernel if this test process dies without running its
	// cleanups (a panic in another goroutine, a kill -9 of go test).
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start weaviate %s: %w", n.Name, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		log.Close()
		close(done)
	}()
	n.cmd, n.done = cmd, done
	return nil
}

// Running reports whether the node's process is alive.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// WaitReady waits until the node answers 200 on /v1/.well-known/ready, and
// fails fast, with the log's tail, when the process exits first.
func (n *Node) WaitReady() error {
	n.mu.Lock()
	done := n.done
	n.mu.Unlock()
	if done == nil {
		return fmt.Errorf("weaviate %s is not running", n.Name)
	}
	deadline := time.Now().Add(n.timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-done:
			return fmt.Errorf("weaviate %s exited before it was ready; log %s:\n%s", n.Name, n.LogPath(), n.LogTail(30))
		default:
		}
		if resp, err := client.Get(n.URL() + "/v1/.well-known/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("weaviate %s not ready after %s; log %s:\n%s", n.Name, n.timeout, n.LogPath(), n.LogTail(30))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Kill sends SIGKILL to the node's process group and waits for it to die.
// Killing a node that is not running does nothing.
func (n *Node) Kill() { n.signal(syscall.SIGKILL, 0) }

// Stop asks the node to shut down (SIGTERM) and kills it if it has not
// exited within 20 seconds.
func (n *Node) Stop() { n.signal(syscall.SIGTERM, 20*time.Second) }

func (n *Node) signal(sig syscall.Signal, grace time.Duration) {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.cmd, n.done = nil, nil
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	pid := cmd.Process.Pid
	syscall.Kill(-pid, sig)
	if grace > 0 {
		select {
		case <-done:
			return
		case <-time.After(grace):
			syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
	<-done
}

// Restart starts a node that was killed or stopped again, with the same
// ports and data, and waits until it is ready.
func (n *Node) Restart() error {
	if n.Running() {
		return fmt.Errorf("weaviate %s is still running", n.Name)
	}
	if err := n.start(); err != nil {
		return err
	}
	return n.WaitReady()
}

// Ready reports whether the node answers its readiness probe now.
func (n *Node) Ready(ctx context.Context) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.URL()+"/v1/.well-known/ready", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
