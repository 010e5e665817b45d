//go:build unix

package weaviatetest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Cluster is a multi-node Weaviate on loopback: every node has its own ports
// and data folder, they find each other through memberlist (CLUSTER_JOIN)
// and elect a Raft leader among all of them (RAFT_JOIN,
// RAFT_BOOTSTRAP_EXPECT = the node count).
type Cluster struct {
	Nodes []*Node
	tb    testing.TB
}

// StartCluster starts a cluster of size nodes for the test and kills them
// all when it ends. It returns once every node is ready and sees all the
// others as healthy. It skips the test when there is no server binary.
func StartCluster(tb testing.TB, size int, opts Options) *Cluster {
	tb.Helper()
	bin := Need(tb)
	root := opts.Dir
	if root == "" {
		root = tb.TempDir()
	}
	c := &Cluster{tb: tb}
	all, err := clusterPorts(root, size, opts.Dir != "")
	if err != nil {
		tb.Fatal(err)
	}
	var raftJoin []string
	for i, p := range all {
		raftJoin = append(raftJoin, fmt.Sprintf("node%d:%d", i, p.raft))
	}
	for i, p := range all {
		n := newNode(tb, bin, fmt.Sprintf("node%d", i), filepath.Join(root, fmt.Sprintf("node%d", i)), p, opts)
		n.env = append(n.env,
			fmt.Sprintf("RAFT_BOOTSTRAP_EXPECT=%d", size),
			"RAFT_JOIN="+strings.Join(raftJoin, ","),
		)
		n.env = append(n.env, opts.Env...)
		c.Nodes = append(c.Nodes, n)
		tb.Cleanup(n.Kill)
	}
	for i, n := range c.Nodes {
		i := i
		n.join = func() string { return c.joinFor(i) }
	}
	// A loaded machine sometimes leaves the Raft bootstrap stuck ("could
	// not join a cluster" from two of the three nodes, for minutes; seen
	// with a second cluster and several test processes on the 2 cores):
	// the nodes are then killed and started once more, same ports and
	// data, which has always come up.
	err = c.start(size, opts)
	if err != nil {
		tb.Logf("cluster did not come up, starting it again: %v", err)
		for _, n := range c.Nodes {
			n.Kill()
		}
		err = c.start(size, opts)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// start starts every node and waits until each is ready and all are
// healthy.
func (c *Cluster) start(size int, opts Options) error {
	// The first node starts alone (memberlist refuses to start when none of
	// its join addresses answers); the others join it.
	for _, n := range c.Nodes {
		if err := n.start(); err != nil {
			return err
		}
		time.Sleep(300 * time.Millisecond)
	}
	var wg sync.WaitGroup
	errs := make([]error, size)
	for i, n := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = n.WaitReady()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return c.WaitHealthy(size, opts.readyTimeout())
}

// clusterPorts finds ports for size nodes. With keep, the ports are read
// from root/ports.json when a former run saved them there and they are
// free (a Raft member must come back on the address its peers know), and
// saved there otherwise.
func clusterPorts(root string, size int, keep bool) ([]ports, error) {
	file := filepath.Join(root, "ports.json")
	if keep {
		var saved [][]int
		if b, err := os.ReadFile(file); err == nil && json.Unmarshal(b, &saved) == nil && len(saved) == size {
			all := make([]ports, 0, size)
			for _, l := range saved {
				if len(l) != 6 || !portsFree(l) {
					return nil, fmt.Errorf("the ports %v saved in %s are taken: remove the folder to start afresh", l, file)
				}
				all = append(all, ports{l[0], l[1], l[2], l[3], l[4], l[5]})
			}
			return all, nil
		}
	}
	var all []ports
	var lists [][]int
	for i := 0; i < size; i++ {
		p, err := freePorts()
		if err != nil {
			return nil, err
		}
		all = append(all, p)
		lists = append(lists, p.list())
	}
	if keep {
		b, _ := json.Marshal(lists)
		if err := os.MkdirAll(root, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(file, b, 0o644); err != nil {
			return nil, err
		}
	}
	return all, nil
}

// portsFree reports whether nothing listens on any of l.
func portsFree(l []int) bool {
	for _, p := range l {
		ln, err := net.Listen("tcp", ":"+strconv.Itoa(p))
		if err != nil {
			return false
		}
		ln.Close()
	}
	return true
}

func (o Options) readyTimeout() time.Duration {
	if o.ReadyTimeout > 0 {
		return o.ReadyTimeout
	}
	return 2 * time.Minute
}

// joinFor is CLUSTER_JOIN for node i: the gossip addresses of the other
// nodes that are running now (none for the first start of node 0).
func (c *Cluster) joinFor(i int) string {
	var addrs []string
	for j, n := range c.Nodes {
		if j != i && n.Running() {
			addrs = append(addrs, n.GossipAddr)
		}
	}
	return strings.Join(addrs, ",")
}

// Node returns node i.
func (c *Cluster) Node(i int) *Node { return c.Nodes[i] }

// Kill kills node i (SIGKILL to its process group).
func (c *Cluster) Kill(i int) { c.Nodes[i].Kill() }

// Restart starts node i again with its ports and data and waits until it is
// ready.
func (c *Cluster) Restart(i int) error { return c.Nodes[i].Restart() }

// URLs are the REST endpoints of every node, in order.
func (c *Cluster) URLs() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.URL())
	}
	return out
}

// NodeStatus is one entry of GET /v1/nodes.
type NodeStatus struct {
	Name   string `json:"name"`
	Status string `json:"status"`
}

// Statuses asks a running node for the cluster's node statuses
// (GET /v1/nodes).
func (c *Cluster) Statuses(ctx context.Context) ([]NodeStatus, error) {
	var lastErr error
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		st, err := n.Statuses(ctx)
		if err == nil {
			return st, nil
		}
		lastErr = err
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("no node is running")
	}
	return nil, lastErr
}

// Statuses asks this node for the cluster's node statuses (GET /v1/nodes).
func (n *Node) Statuses(ctx context.Context) ([]NodeStatus, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.URL()+"/v1/nodes", nil)
	if err != nil {
		return nil, err
	}
	if n.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+n.APIKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/nodes on %s: %s", n.Name, resp.Status)
	}
	var body struct {
		Nodes []NodeStatus `json:"nodes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("GET /v1/nodes on %s: %w", n.Name, err)
	}
	return body.Nodes, nil
}

// WaitHealthy waits until a running node reports want nodes HEALTHY.
func (c *Cluster) WaitHealthy(want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last []NodeStatus
	var lastErr error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		st, err := c.Statuses(ctx)
		cancel()
		last, lastErr = st, err
		healthy := 0
		for _, s := range st {
			if s.Status == "HEALTHY" {
				healthy++
			}
		}
		if err == nil && healthy >= want {
			return nil
		}
		time.Sleep(300 * time.Millisecond)
	}
	return fmt.Errorf("cluster: %d nodes not healthy after %s: last status %v (%v); log of node0:\n%s",
		want, timeout, last, lastErr, c.Nodes[0].LogTail(20))
}

// ObjectCount is how many objects of class this node holds itself, over
// all its shards, as GET /v1/nodes?output=verbose reports them (Weaviate
// updates the figure asynchronously, so it may lag a write by a moment).
func (n *Node) ObjectCount(ctx context.Context, class string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.URL()+"/v1/nodes/"+class+"?output=verbose", nil)
	if err != nil {
		return 0, err
	}
	if n.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+n.APIKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /v1/nodes on %s: %s", n.Name, resp.Status)
	}
	var body struct {
		Nodes []struct {
			Name   string `json:"name"`
			Shards []struct {
				Class       string `json:"class"`
				ObjectCount int    `json:"objectCount"`
			} `json:"shards"`
		} `json:"nodes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, err
	}
	total := 0
	for _, nd := range body.Nodes {
		if nd.Name != n.Name {
			continue
		}
		for _, s := range nd.Shards {
			if s.Class == class {
				total += s.ObjectCount
			}
		}
	}
	return total, nil
}
