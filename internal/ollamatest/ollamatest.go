// Package ollamatest provides a fake Ollama server for tests and benchmarks. It
// speaks the subset of Ollama's HTTP API that rag uses (/api/embed, /api/chat,
// /api/show, /api/pull, /api/tags, /api/version, GET and HEAD /) with the real
// server's request and response shapes, status codes and error bodies, so the
// official client (github.com/ollama/ollama/api) can be pointed at it.
//
// Embeddings are deterministic feature hashes of the input's words (see
// [Embed]), chat replies are scripted (see [Server.SetChatReply], or per
// request [Server.SetChatHook] and [Server.AddChatRule]), and faults
// can be injected per path: latency, failures and hangs. Counters let tests
// assert what the server was asked.
//
// It does not run models, does not model GPU memory, keep-alive or the
// scheduler, and only ever listens on 127.0.0.1.
package ollamatest

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/types/model"
)

// Version is the Ollama version the fake reports on /api/version: the version
// of the api package rag is built against.
const Version = "0.17.4"

// Defaults applied to a [Model] whose fields are left zero.
const (
	DefaultEmbeddingDim     = 384
	DefaultEmbeddingContext = 512
	DefaultChatContext      = 8192
	// DefaultNumCtx is the chat window of a request without options.num_ctx,
	// as in Ollama v0.17.
	DefaultNumCtx = 4096
)

// Model describes a model the fake server has installed or can pull.
type Model struct {
	// Name as a user types it, e.g. "all-minilm" or "llama3.2:3b". A name
	// without a tag means ":latest", and names match case-insensitively, as in
	// Ollama.
	Name string
	// Embedding marks an embedding model; otherwise it is a chat model.
	Embedding bool
	// Dim is the embedding dimension. Zero means DefaultEmbeddingDim for an
	// embedding model.
	Dim int
	// ContextLength is the context length in tokens (see [CountTokens]),
	// reported by /api/show as model_info["<arch>.context_length"] with arch
	// "bert" for embedding models and "llama" for chat models. Zero means
	// DefaultEmbeddingContext or DefaultChatContext.
	ContextLength int
	// ShowContextLength, when set, is the context length /api/show reports
	// instead of ContextLength: a server that overstates its window, to test
	// that a client re-splits inputs the model refuses.
	ShowContextLength int
	// NumPredict, when set, is the Modelfile's num_predict: a reply longer
	// than that many tokens stops there with done_reason "length", as the
	// real server does (the shared tiny chat model sets 48). A request's own
	// options.num_predict takes precedence.
	NumPredict int
}

// ParseModel parses a model spec "name:kind:dim:ctx" as taken by the fakeollama
// command, e.g. "all-minilm:embed:384:512" or "llama3.2:3b:chat:0:8192". kind is
// "embed" or "chat"; the name may itself hold a tag, since the last three
// fields are taken from the right.
func ParseModel(spec string) (Model, error) {
	parts := strings.Split(spec, ":")
	if len(parts) < 4 {
		return Model{}, fmt.Errorf("model spec %q: want name:kind:dim:ctx", spec)
	}
	n := len(parts)
	m := Model{Name: strings.Join(parts[:n-3], ":")}
	switch parts[n-3] {
	case "embed", "embedding":
		m.Embedding = true
	case "chat":
	default:
		return Model{}, fmt.Errorf("model spec %q: kind %q is not embed or chat", spec, parts[n-3])
	}
	var err error
	if m.Dim, err = strconv.Atoi(parts[n-2]); err != nil || m.Dim < 0 {
		return Model{}, fmt.Errorf("model spec %q: bad dimension %q", spec, parts[n-2])
	}
	if m.ContextLength, err = strconv.Atoi(parts[n-1]); err != nil || m.ContextLength < 0 {
		return Model{}, fmt.Errorf("model spec %q: bad context length %q", spec, parts[n-1])
	}
	if !model.ParseName(m.Name).IsValid() {
		return Model{}, fmt.Errorf("model spec %q: invalid model name %q", spec, m.Name)
	}
	return m, nil
}

func (m Model) withDefaults() Model {
	if m.Embedding && m.Dim <= 0 {
		m.Dim = DefaultEmbeddingDim
	}
	if m.ContextLength <= 0 {
		m.ContextLength = DefaultChatContext
		if m.Embedding {
			m.ContextLength = DefaultEmbeddingContext
		}
	}
	return m
}

// installed is a model on the fake server's disk.
type installed struct {
	Model
	display  string // "all-minilm:latest"
	modified time.Time
	seq      int // install order; /api/tags lists the newest first
}

type fault struct {
	status int
	header http.Header
	body   string
	n      int
}

// Server is a running fake Ollama server. Its methods are safe for concurrent
// use, also while requests are being served.
type Server struct {
	// URL is the base URL, http://127.0.0.1:PORT, to use as OLLAMA_HOST.
	URL string

	ts        *httptest.Server
	done      chan struct{} // closed by Close, to release hung requests
	closeOnce sync.Once

	mu          sync.Mutex
	models      map[string]*installed // by nameKey
	pullable    map[string]Model      // by nameKey
	seq         int
	chatReply   func(api.ChatRequest) string
	chatHook    func(api.ChatRequest) ChatOutcome
	chatRules   []*chatRule
	latency     time.Duration
	chunkDelay  time.Duration
	faults      map[string][]fault
	hangs       map[string]bool
	hangFor     map[string][]timedHang
	breakStream []streamBreak
	calls       map[string]int
	embedded    int
	lastChat    api.ChatRequest
	chats       int
	truncated   int
	offline     bool
}

type streamBreak struct {
	after   int
	message string // "" ends the stream without an error and without done
}

type timedHang struct {
	d time.Duration
	n int
}

// New starts a fake server on 127.0.0.1 with models installed and closes it
// when the test ends.
func New(t testing.TB, models ...Model) *Server {
	t.Helper()
	s := NewServer(models...)
	t.Cleanup(s.Close)
	return s
}

// NewServer starts a fake server on a free port of 127.0.0.1 with models
// installed. The caller must call Close.
func NewServer(models ...Model) *Server {
	s, err := Listen("127.0.0.1:0", models...)
	if err != nil {
		panic(fmt.Sprintf("ollamatest: %v", err))
	}
	return s
}

// Listen starts a fake server on addr, which must be on host 127.0.0.1 (port 0
// picks a free port), with models installed. The caller must call Close.
func Listen(addr string, models ...Model) (*Server, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if host != "127.0.0.1" {
		return nil, fmt.Errorf("listen on %s: only 127.0.0.1 is allowed", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &Server{
		done:     make(chan struct{}),
		models:   make(map[string]*installed),
		pullable: make(map[string]Model),
		faults:   make(map[string][]fault),
		hangs:    make(map[string]bool),
		hangFor:  make(map[string][]timedHang),
		calls:    make(map[string]int),
	}
	for _, m := range models {
		if err := s.AddModel(m); err != nil {
			l.Close()
			return nil, err
		}
	}
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	s.ts.Listener.Close()
	s.ts.Listener = l
	s.ts.Start()
	s.URL = s.ts.URL
	return s, nil
}

// Close releases requests blocked by Hang, then stops the server and waits for
// its requests to finish. It may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.ts.Close()
	})
}

// nameKey is how the fake matches model names: parsed with Ollama's own rules
// (default tag "latest", default namespace "library") and compared without case.
func nameKey(name string) (key, display string, ok bool) {
	n := model.ParseName(name)
	if !n.IsValid() {
		return "", "", false
	}
	return strings.ToLower(n.String()), n.DisplayShortest(), true
}

// AddModel installs m, replacing an installed model of the same name.
func (s *Server) AddModel(m Model) error {
	key, display, ok := nameKey(m.Name)
	if !ok {
		return fmt.Errorf("add model: invalid model name %q", m.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.install(key, display, m)
	return nil
}

func (s *Server) install(key, display string, m Model) {
	s.seq++
	s.models[key] = &installed{Model: m.withDefaults(), display: display, modified: time.Now(), seq: s.seq}
}

// RemoveModel uninstalls the model called name, as `ollama rm` does. It
// reports whether the model was installed.
func (s *Server) RemoveModel(name string) bool {
	key, _, ok := nameKey(name)
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, found := s.models[key]
	delete(s.models, key)
	return found
}

// HasModel reports whether the model called name is installed.
func (s *Server) HasModel(name string) bool {
	_, ok := s.lookup(name)
	return ok
}

// AddPullable makes m available to /api/pull: pulling it installs it. Pulling
// a name that is neither pullable nor installed fails as it does against the
// real registry.
func (s *Server) AddPullable(m Model) {
	key, _, ok := nameKey(m.Name)
	if !ok {
		panic(fmt.Sprintf("ollamatest: AddPullable: invalid model name %q", m.Name))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pullable[key] = m
}

func (s *Server) lookup(name string) (installed, bool) {
	key, _, ok := nameKey(name)
	if !ok {
		return installed{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.models[key]
	if !ok {
		return installed{}, false
	}
	return *m, true
}

// DefaultChatReply is the chat reply used until SetChatReply is called: a
// sentence that cites source [1] and echoes the last user message, so tests can
// check both citation handling and that the question reached the model.
func DefaultChatReply(req api.ChatRequest) string {
	var question string
	for _, m := range slices.Backward(req.Messages) {
		if m.Role == "user" {
			question = m.Content
			break
		}
	}
	question = strings.Join(strings.Fields(question), " ")
	if len(question) > 80 {
		question = question[:80]
	}
	if question == "" {
		return "According to the sources, there is nothing to answer [1]."
	}
	return fmt.Sprintf("According to the sources, the answer to %q is in the first document [1].", question)
}

// SetChatReply scripts the text of every following /api/chat answer. fn is
// called once per request, outside the server's lock; nil restores
// DefaultChatReply.
func (s *Server) SetChatReply(fn func(req api.ChatRequest) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chatReply = fn
}

// SetLatency delays every following request by d before it is answered. A
// request whose client gives up during the delay gets no answer.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetChunkDelay pauses d before each streamed chunk of /api/chat and
// /api/pull, so tests can cancel a stream half-way.
func (s *Server) SetChunkDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chunkDelay = d
}

// FailNext makes the next n requests to path (e.g. "/api/embed") answer
// status with body, before the request is even decoded. A body that starts
// with '{' is sent as application/json, others as text/plain. Calls queue up:
// FailNext(p, 500, ..., 1) then FailNext(p, 503, ..., 1) fails with 500 first.
func (s *Server) FailNext(path string, status int, body string, n int) {
	s.FailNextWith(path, status, nil, body, n)
}

// FailNextWith is FailNext with response headers, such as the Retry-After
// of a 429 that a rate-limiting proxy in front of Ollama sends (Ollama
// itself sends none, see Busy).
func (s *Server) FailNextWith(path string, status int, header http.Header, body string, n int) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[path] = append(s.faults[path], fault{status: status, header: header.Clone(), body: body, n: n})
}

// BusyMessage is what Ollama v0.17.4 answers, with 503, to a request that
// finds its queue full (OLLAMA_MAX_QUEUE; server/sched.go ErrMaxQueue).
const BusyMessage = "server busy, please try again.  maximum pending requests exceeded"

// Busy makes the next n requests to path answer as a real Ollama with a full
// queue does: 503 {"error": BusyMessage}, without a Retry-After header
// (server/routes.go handleScheduleError sends none).
func (s *Server) Busy(path string, n int) {
	b, _ := json.Marshal(map[string]string{"error": BusyMessage})
	s.FailNext(path, http.StatusServiceUnavailable, string(b), n)
}

// Hang makes requests to path block, without an answer, until the client
// cancels them or the server closes (on=true), or ends that (on=false).
func (s *Server) Hang(path string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.hangs[path] = true
	} else {
		delete(s.hangs, path)
	}
}

// HangFor makes the next n requests to path wait d without an answer, then
// go on as usual: a server that stalls (a slow model load, a busy runner)
// and recovers. A client that gives up meanwhile gets no answer. Calls queue
// up as with FailNext.
func (s *Server) HangFor(path string, d time.Duration, n int) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hangFor[path] = append(s.hangFor[path], timedHang{d: d, n: n})
}

// ClearFaults drops every queued FailNext, HangFor, Hang and stream break.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
	clear(s.hangs)
	clear(s.hangFor)
	s.breakStream = nil
}

// Texts the real Ollama v0.17.4 answers while a model runner crashes or
// restarts, for FailNext and BreakNextStream.
const (
	// RunnerGone is /api/embed's 400 body when the runner died before the request.
	RunnerGone = `{"error":"llama runner process no longer running: -1"}`
	// RunnerEOF is /api/embed's 400 body when the runner died during it.
	RunnerEOF = `{"error":"do embedding request: Post \"http://127.0.0.1:41233/embedding\": EOF"}`
	// RunnerHealth is /api/embed's 400 body when the scheduler's health check
	// of a runner meets it dying (seen in make test-ollama's
	// TestRunnerKilledMidIngest).
	RunnerHealth = `{"error":"health resp: Get \"http://127.0.0.1:41881/health\": read tcp 127.0.0.1:41750->127.0.0.1:41881: read: connection reset by peer"}`
	// RunnerRefused is /api/embed's 400 body when the server dials a runner
	// that was just killed (seen in a clean-clone CI run of
	// TestRunnerKilledMidIngest: the whole body is the dial error's text).
	RunnerRefused = `{"error":"connection refused"}`
	// RunnerTerminated is the 500 body while the scheduler restarts a runner.
	RunnerTerminated = `{"error":"llama runner process has terminated: signal: killed"}`
	// StreamRunnerEOF is the error line that ends a chat stream whose runner died.
	StreamRunnerEOF = "an error was encountered while running the model: unexpected EOF"
)

// EndNextStream makes the next streamed /api/chat answer stop after after
// content chunks with neither a done line nor an error, as the real server
// does when it cuts off a model that repeats one token.
func (s *Server) EndNextStream(after int) {
	s.BreakNextStream(after, "")
}

// BreakNextStream makes the next streamed /api/chat answer send after
// content chunks and then the line {"error": message} in place of the rest,
// as Ollama does when a runner fails mid-answer (see StreamRunnerEOF). An
// empty message ends the stream there without a line (see EndNextStream).
func (s *Server) BreakNextStream(after int, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.breakStream = append(s.breakStream, streamBreak{after: after, message: message})
}

// Calls returns how many requests arrived for path, e.g. "/api/embed",
// including failed and cancelled ones.
func (s *Server) Calls(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[path]
}

// EmbeddedInputs returns how many inputs /api/embed has embedded so far, over
// all successful requests.
func (s *Server) EmbeddedInputs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.embedded
}

// LastChat returns the last well-formed /api/chat request, or the zero value.
// The caller must not modify it.
func (s *Server) LastChat() api.ChatRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastChat
}

// TruncatedPrompts returns how many chat prompts were longer than their
// window (num_ctx, 4096 by default, capped at the model's context) and were
// cut, which the real server does silently but for a log line.
func (s *Server) TruncatedPrompts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.truncated
}

// SetOffline makes /api/pull fail as a real server without network does,
// instead of as for a name the registry does not have.
func (s *Server) SetOffline(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offline = on
}

// Chats returns how many well-formed /api/chat requests arrived.
func (s *Server) Chats() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.chats
}

// wait blocks for d, or until the request is cancelled or the server closes;
// it reports whether the full time passed.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.done:
		return false
	}
}

func digestOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (m installed) size() int64 {
	if m.Embedding {
		return int64(m.Dim) * 119_690 // all-minilm: 384 dims, 45.96 MB
	}
	return 2_019_393_189 // llama3.2:latest
}

func (m installed) arch() string {
	if m.Embedding {
		return "bert"
	}
	return "llama"
}

func (m installed) details() api.ModelDetails {
	if m.Embedding {
		return api.ModelDetails{Format: "gguf", Family: "bert", Families: []string{"bert"}, ParameterSize: "23M", QuantizationLevel: "F16"}
	}
	return api.ModelDetails{Format: "gguf", Family: "llama", Families: []string{"llama"}, ParameterSize: "3.2B", QuantizationLevel: "Q4_K_M"}
}

func (m installed) show() api.ShowResponse {
	arch := m.arch()
	info := map[string]any{
		"general.architecture":         arch,
		"general.file_type":            1,
		"general.parameter_count":      22_565_760,
		"general.quantization_version": 2,
		arch + ".context_length":       cmp.Or(m.ShowContextLength, m.ContextLength),
		arch + ".embedding_length":     cmp.Or(m.Dim, 3072),
		arch + ".block_count":          6,
	}
	resp := api.ShowResponse{
		Modelfile:  fmt.Sprintf("# Modelfile generated by \"ollama show\"\n# To build a new Modelfile based on this, replace FROM with:\n# FROM %s\n\nFROM /root/.ollama/models/blobs/%s\n", m.display, strings.Replace(digestOf(m.display), ":", "-", 1)),
		Details:    m.details(),
		ModelInfo:  info,
		ModifiedAt: m.modified,
	}
	if m.Embedding {
		resp.Parameters = fmt.Sprintf("num_ctx                        %d", m.ContextLength)
		resp.Capabilities = []model.Capability{model.CapabilityEmbedding}
	} else {
		info["general.parameter_count"] = 3_212_749_888
		info[arch+".block_count"] = 28
		resp.Parameters = "stop                           \"<|eot_id|>\""
		resp.Template = "{{ range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n"
		resp.Capabilities = []model.Capability{model.CapabilityCompletion, model.CapabilityTools}
	}
	return resp
}
