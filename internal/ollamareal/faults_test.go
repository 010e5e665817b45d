package ollamareal

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitFor polls cond every 20 ms for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// ingestWhile runs an ingest of docs in the background and calls act once
// the proxy has seen `after` embed requests; it returns the ingest's result.
func ingestWhile(t *testing.T, p *proxy, dir, docs string, after int, act func()) ragResult {
	t.Helper()
	var r ragResult
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r = rag(t, p.URL, dir, nil, "ingest", "--json", "--batch-size", "8", "--index", filepath.Join(dir, "index"), docs)
	}()
	if !waitFor(2*time.Minute, func() bool { return p.count("/api/embed") >= after }) {
		t.Error("the ingest never reached its embed requests")
	}
	act()
	wg.Wait()
	return r
}

// TestRunnerKilledMidIngest: the real server answers the requests of a
// runner that dies with HTTP 400 (runner no longer running, embedding EOF)
// and starts a new one on the next request. rag retries and completes.
func TestRunnerKilledMidIngest(t *testing.T) {
	s := need(t)
	docs := sample(t, "otel-docs")
	dir := t.TempDir()
	p := newProxy(t, s.host)
	off := s.logSize()
	killed := 0
	r := ingestWhile(t, p, dir, docs, 3, func() { killed = s.killRunners() })
	if killed == 0 {
		t.Fatal("no runner to kill")
	}
	log := s.logSince(off)
	crash := embed400.FindAllString(log, -1)
	t.Logf("killed %d runners; %d embed requests answered 400", killed, len(crash))
	rep := parseReport(t, r)
	switch {
	case r.code == 0:
		if rep.ChunksPending != 0 || rep.ChunksEmbedded == 0 {
			t.Errorf("exit 0 with %+v", rep)
		}
	case r.code == 3 && rep.ChunksPending > 0:
		// Kept as pending: the next run embeds them.
		r2 := rag(t, s.host, dir, nil, "ingest", "--json", "--index", filepath.Join(dir, "index"), docs)
		if rep2 := parseReport(t, r2); r2.code != 0 || rep2.ChunksPending != 0 {
			t.Errorf("second run: exit %d, %+v", r2.code, rep2)
		}
	default:
		t.Errorf("ingest with a runner killed: exit %d, %+v\n%s", r.code, rep, r.stderr)
	}
	figure(t, "runner killed mid-ingest: exit %d, %d requests answered 400 (%q), %d embedded, %d pending",
		r.code, len(crash), firstMatch(log, `"error":"[^"]*"|msg="[^"]*runner[^"]*"`), rep.ChunksEmbedded, rep.ChunksPending)
}

func firstMatch(s, re string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "level=ERROR") || strings.Contains(l, "no longer running") || strings.Contains(l, "EOF") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// TestServerRestartedMidIngest: the server stops (SIGTERM) and comes back on
// the same port two seconds later. rag has seen it answer, so it retries the
// refused connections within its budget and completes.
func TestServerRestartedMidIngest(t *testing.T) {
	s := need(t)
	docs := sample(t, "hugo-docs")
	dir := t.TempDir()
	p := newProxy(t, s.host) // to see the ingest's progress; rag talks to the server itself
	var r ragResult
	done := make(chan struct{})
	go func() {
		defer close(done)
		r = rag(t, s.host, dir, nil, "ingest", "--json", "--batch-size", "8", "--index", filepath.Join(dir, "index"), docs)
	}()
	off := s.logSize()
	if !waitFor(2*time.Minute, func() bool { return len(embedAny.FindAllString(s.logSince(off), -1)) >= 3 }) {
		t.Fatal("the ingest never reached its embed requests")
	}
	_ = p
	s.stop()
	time.Sleep(2 * time.Second)
	if err := s.start(); err != nil {
		t.Fatalf("restart: %v", err)
	}
	<-done
	rep := parseReport(t, r)
	if r.code != 0 || rep.ChunksPending != 0 {
		t.Errorf("ingest across a restart: exit %d, %+v\n%s", r.code, rep, r.stderr)
	}
	figure(t, "server restarted mid-ingest (2 s down): exit %d in %.1fs, %d embedded, %d pending", r.code, r.took.Seconds(), rep.ChunksEmbedded, rep.ChunksPending)
}

// TestRunnerKilledMidAnswer: the runner dies while the answer streams. The
// real server ends the stream with an error line; rag says the answer was
// cut and exits 1. Killed before the first piece, the answer is retried.
func TestRunnerKilledMidAnswer(t *testing.T) {
	s := need(t)
	dir, index := ingestSmall(t, s, 4)
	p := newProxy(t, s.host)
	// Load the chat runner first, so that the kill hits a stream in progress.
	rag(t, p.URL, dir, nil, "ask", "--index", index, "warm up")
	var once sync.Once
	p.setOnLine(func(n int) {
		if n == 3 {
			once.Do(func() { s.killRunners() })
		}
	})
	off := s.logSize()
	r := rag(t, p.URL, dir, []string{"RAG_OLLAMA_TIMING=retry-budget=10s"}, "ask", "--index", index, "how do I configure the server")
	p.setOnLine(nil)
	log := s.logSince(off)
	switch {
	case r.code == 1 && strings.Contains(r.stderr, "the answer was cut short"):
		// The error line reached rag after pieces were shown.
	case r.code == 1 && strings.Contains(r.stderr, "the answer is incomplete"):
		// The server closed the stream without a line.
	default:
		t.Errorf("ask with the runner killed mid-answer: exit %d\n%s", r.code, r.stderr)
	}
	figure(t, "runner killed mid-answer: exit %d, stderr %q", r.code, lastLine(r.stderr, "rag: error:"))
	_ = log

	// Killed as soon as the stream starts (the first line is the first piece,
	// so some text may or may not be out): rag either retries or says cut.
	var once2 sync.Once
	p.setOnLine(func(n int) { once2.Do(func() { s.killRunners() }) })
	r = rag(t, p.URL, dir, nil, "ask", "--index", index, "menus")
	p.setOnLine(nil)
	if r.code != 0 && r.code != 1 {
		t.Errorf("ask with the runner killed at the first piece: exit %d\n%s", r.code, r.stderr)
	}
	if r.code == 1 && !strings.Contains(r.stderr, "cut short") && !strings.Contains(r.stderr, "incomplete") {
		t.Errorf("exit 1 without saying the answer was cut:\n%s", r.stderr)
	}
}

func lastLine(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// TestModelRemovedBetweenRuns: `ollama rm` of the embedding model between an
// ingest and a search: a missing model, exit 4, with the pull hint; a hybrid
// search falls back to its lexical leg? No: a missing model is the user's to
// fix, so vector search exits 4 and says which model.
func TestModelRemovedBetweenRuns(t *testing.T) {
	s := need(t)
	dir, index := ingestSmall(t, s, 2)
	if out, err := s.ollama("rm", "all-minilm"); err != nil {
		t.Fatalf("ollama rm: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if err := s.create("all-minilm"); err != nil {
			t.Error(err)
		}
	})
	r := rag(t, s.host, dir, nil, "search", "--mode", "vector", "--index", index, "configuration")
	if r.code != 4 || !strings.Contains(r.stderr, `model "all-minilm" not found`) || !strings.Contains(r.stderr, "ollama pull all-minilm") {
		t.Errorf("vector search with the model removed: exit %d\n%s", r.code, r.stderr)
	}
	r = rag(t, s.host, dir, nil, "ingest", "--index", index, filepath.Join(dir, "docs"))
	if r.code != 4 || !strings.Contains(r.stderr, "ollama pull all-minilm") {
		t.Errorf("ingest with the model removed: exit %d\n%s", r.code, r.stderr)
	}
}

// TestPullWithoutNetwork: --pull of a missing model on a server that cannot
// reach its registry: a clear error and exit 4.
func TestPullWithoutNetwork(t *testing.T) {
	s := need(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := ragCtx(ctx, t, s.host, dir, nil, "ingest", "--pull", "--embed-model", "nomic-embed-text", "--index", filepath.Join(dir, "index"), dir)
	if r.code != 4 || !strings.Contains(r.stderr, "pull nomic-embed-text") || !strings.Contains(r.stderr, "cannot reach its registry") {
		t.Errorf("--pull without network: exit %d\n%s", r.code, r.stderr)
	}
	figure(t, "--pull without network: exit %d, %q", r.code, lastLine(r.stderr, "rag: error:"))
}

// TestBatchLargerThanNumBatch: one request of 64 chunks of ~400 tokens
// (25 600 tokens, far over the server's num_batch of 512) embeds whole.
func TestBatchLargerThanNumBatch(t *testing.T) {
	s := need(t)
	docs := sample(t, "otel-docs")
	dir := t.TempDir()
	off := s.logSize()
	r := rag(t, s.host, dir, nil, "ingest", "--json", "--batch-size", "64", "--chunk-tokens", "400", "--index", filepath.Join(dir, "index"), docs)
	rep := parseReport(t, r)
	if r.code != 0 || rep.ChunksPending != 0 || rep.Failed != 0 {
		t.Errorf("ingest --batch 64: exit %d, %+v\n%s", r.code, rep, r.stderr)
	}
	if n := len(embed400.FindAllString(s.logSince(off), -1)); n != 0 {
		t.Errorf("%d embed requests refused", n)
	}
}

// TestCapabilitiesRefused: the real server embeds with a chat model (a 64-d
// vector); rag refuses it from /api/show's capabilities, and the reverse.
func TestCapabilitiesRefused(t *testing.T) {
	s := need(t)
	dir := t.TempDir()
	r := rag(t, s.host, dir, nil, "ingest", "--embed-model", "llama3.2", "--index", filepath.Join(dir, "index"), dir)
	if r.code != 4 || !strings.Contains(r.stderr, "llama3.2 is a chat model; it cannot embed") {
		t.Errorf("--embed-model llama3.2: exit %d\n%s", r.code, r.stderr)
	}
	dir2, index := ingestSmall(t, s, 1)
	r = rag(t, s.host, dir2, nil, "ask", "--chat-model", "all-minilm", "--index", index, "anything")
	if r.code != 4 || !strings.Contains(r.stderr, "all-minilm is an embedding model; it cannot chat") {
		t.Errorf("--chat-model all-minilm: exit %d\n%s", r.code, r.stderr)
	}
}
