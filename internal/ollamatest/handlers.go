package ollamatest

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/types/model"
)

// Error texts of the real server (server/routes.go, runner, images.go), kept
// byte for byte because clients match on them.
const (
	errMissingBody      = "missing request body"
	errModelRequired    = "model is required"
	errInvalidInput     = "invalid input type"
	errInvalidModelName = "invalid model name"
	errInputTooLong     = "the input length exceeds the context length"
	errPullNotFound     = "pull model manifest: file does not exist"
	// errPullOffline takes the registry path, e.g. library/all-minilm/manifests/latest.
	errPullOffline = "pull model manifest: Get \"https://registry.ollama.ai/v2/%s\": dial tcp: lookup registry.ollama.ai on 127.0.0.53:53: no such host"
	notFoundPage   = "404 page not found"
	runningText    = "Ollama is running"
)

func modelNotFound(name string) string { return fmt.Sprintf("model '%s' not found", name) }

// serveHTTP applies the injected faults, then routes like the real server's
// gin router: unknown paths and methods get gin's plain-text 404.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	ctx := r.Context()

	s.mu.Lock()
	s.calls[path]++
	hang := s.hangs[path]
	latency := s.latency
	s.mu.Unlock()

	if hang {
		select {
		case <-ctx.Done():
		case <-s.done:
		}
		s.abortIfClosed()
		return
	}
	if !s.wait(ctx, latency+s.takeHang(path)) {
		s.abortIfClosed()
		return
	}
	if f, ok := s.takeFault(path); ok {
		for k, v := range f.header {
			w.Header()[k] = v
		}
		writeRaw(w, f.status, f.body)
		return
	}

	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	post := r.Method == http.MethodPost
	switch {
	case path == "/" && get:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, runningText)
	case path == "/api/version" && get:
		writeJSON(w, http.StatusOK, map[string]string{"version": Version})
	case path == "/api/tags" && get:
		s.list(w)
	case path == "/api/show" && post:
		s.show(w, r)
	case path == "/api/embed" && post:
		s.embed(w, r)
	case path == "/api/chat" && post:
		s.chat(w, r)
	case path == "/api/pull" && post:
		s.pull(w, r)
	default:
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, notFoundPage)
	}
}

// abortIfClosed drops the connection of a request released by Close, so its
// client sees a broken connection rather than an empty 200 answer.
func (s *Server) abortIfClosed() {
	select {
	case <-s.done:
		panic(http.ErrAbortHandler)
	default:
	}
}

func (s *Server) takeFault(path string) (fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.faults[path]
	if len(q) == 0 {
		return fault{}, false
	}
	f := q[0]
	q[0].n--
	if q[0].n <= 0 {
		q = q[1:]
	}
	if len(q) == 0 {
		delete(s.faults, path)
	} else {
		s.faults[path] = q
	}
	return f, true
}

func (s *Server) takeHang(path string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.hangFor[path]
	if len(q) == 0 {
		return 0
	}
	d := q[0].d
	q[0].n--
	if q[0].n <= 0 {
		q = q[1:]
	}
	if len(q) == 0 {
		delete(s.hangFor, path)
	} else {
		s.hangFor[path] = q
	}
	return d
}

// writeRaw answers status with body, as JSON when it looks like JSON.
func writeRaw(w http.ResponseWriter, status int, body string) {
	ct := "text/plain; charset=utf-8"
	if strings.HasPrefix(strings.TrimSpace(body), "{") {
		ct = "application/json; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"ollamatest: cannot encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// decode reads the JSON body into v as gin's ShouldBindJSON does, answering
// the real server's 400 errors; it reports whether the handler may go on.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	err := json.NewDecoder(r.Body).Decode(v)
	switch {
	case errors.Is(err, io.EOF):
		writeError(w, http.StatusBadRequest, errMissingBody)
		return false
	case err != nil:
		writeError(w, http.StatusBadRequest, err.Error())
		return false
	}
	return true
}

// stream writes NDJSON lines, flushing each so the client sees it at once.
type stream struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func newStream(w http.ResponseWriter) *stream {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	return &stream{w: w, rc: http.NewResponseController(w)}
}

func (st *stream) send(v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	if _, err := st.w.Write(append(b, '\n')); err != nil {
		return false
	}
	return st.rc.Flush() == nil
}

func (s *Server) list(w http.ResponseWriter) {
	s.mu.Lock()
	ms := make([]installed, 0, len(s.models))
	for _, m := range s.models {
		ms = append(ms, *m)
	}
	s.mu.Unlock()
	// The real server lists the most recently modified first.
	slices.SortFunc(ms, func(a, b installed) int { return cmp.Compare(b.seq, a.seq) })
	resp := api.ListResponse{Models: []api.ListModelResponse{}}
	for _, m := range ms {
		resp.Models = append(resp.Models, api.ListModelResponse{
			Name:       m.display,
			Model:      m.display,
			ModifiedAt: m.modified,
			Size:       m.size(),
			Digest:     strings.TrimPrefix(digestOf("manifest:"+m.display), "sha256:"),
			Details:    m.details(),
		})
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) show(w http.ResponseWriter, r *http.Request) {
	var req api.ShowRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Model == "" {
		if req.Name == "" {
			writeError(w, http.StatusBadRequest, errModelRequired)
			return
		}
		req.Model = req.Name
	}
	if n := model.ParseName(req.Model); !n.IsValid() {
		writeError(w, http.StatusInternalServerError, model.Unqualified(n).Error())
		return
	}
	m, ok := s.lookup(req.Model)
	if !ok {
		writeError(w, http.StatusNotFound, modelNotFound(req.Model))
		return
	}
	writeJSON(w, http.StatusOK, m.show())
}

func (s *Server) embed(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req api.EmbedRequest
	if !decode(w, r, &req) {
		return
	}
	var input []string
	switch in := req.Input.(type) {
	case string:
		if in != "" {
			input = append(input, in)
		}
	case []any:
		for _, v := range in {
			str, ok := v.(string)
			if !ok {
				writeError(w, http.StatusBadRequest, errInvalidInput)
				return
			}
			input = append(input, str)
		}
	default:
		if req.Input != nil {
			writeError(w, http.StatusBadRequest, errInvalidInput)
			return
		}
	}
	if n := model.ParseName(req.Model); !n.IsValid() {
		writeError(w, http.StatusInternalServerError, model.Unqualified(n).Error())
		return
	}
	m, ok := s.lookup(req.Model)
	if !ok {
		// /api/embed finds out while scheduling a runner, whose error differs
		// from the one /api/show and /api/chat give.
		writeError(w, http.StatusNotFound, fmt.Sprintf("model %q not found, try pulling it first", req.Model))
		return
	}
	// An empty input only loads the model, whatever its kind.
	if len(input) == 0 {
		writeJSON(w, http.StatusOK, api.EmbedResponse{Model: req.Model, Embeddings: [][]float32{}})
		return
	}
	// A chat model embeds too: the real server's llama.cpp runner answers
	// with a vector of the model's hidden size, useless for retrieval.
	dim := m.Dim
	if !m.Embedding {
		dim = m.show().ModelInfo[m.arch()+".embedding_length"].(int)
	}
	limit := m.ContextLength
	if n := numCtx(req.Options); n > 0 && n < limit {
		limit = n
	}
	// The tokenizer adds special tokens to every input: [CLS] and [SEP] for
	// a BERT model (510 words of all-MiniLM are its 512 tokens), <BOS> for a
	// llama one. They count against the context and in prompt_eval_count.
	special := 1
	if m.Embedding {
		special = 2
	}
	embeddings := make([][]float32, len(input))
	tokens := 0
	for i, text := range input {
		n := CountTokens(text) + special
		if n > limit {
			if req.Truncate != nil && !*req.Truncate {
				writeError(w, http.StatusBadRequest, errInputTooLong)
				return
			}
			text, n = TruncateTokens(text, limit-special), limit
		}
		v := Embed(text, dim)
		if req.Dimensions > 0 && req.Dimensions < len(v) {
			v = normalize(v[:req.Dimensions])
		}
		embeddings[i] = v
		tokens += n
	}
	s.mu.Lock()
	s.embedded += len(input)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, api.EmbedResponse{
		Model:           req.Model,
		Embeddings:      embeddings,
		TotalDuration:   time.Since(start),
		LoadDuration:    time.Millisecond,
		PromptEvalCount: tokens,
	})
}

// numCtx reads options.num_ctx, which JSON decodes as a float64.
func numCtx(opts map[string]any) int { return intOption(opts, "num_ctx") }

// intOption reads a whole-number option, which JSON decodes as a float64.
func intOption(opts map[string]any, name string) int {
	switch v := opts[name].(type) {
	case float64:
		return int(v)
	case int:
		return v
	}
	return 0
}

func normalize(v []float32) []float32 {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	norm := 1 / max(math.Sqrt(sum), 1e-12)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) * norm)
	}
	return out
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req api.ChatRequest
	if !decode(w, r, &req) {
		return
	}
	s.mu.Lock()
	s.lastChat = req
	s.chats++
	delay := s.chunkDelay
	s.mu.Unlock()

	if !model.ParseName(req.Model).IsValid() {
		writeError(w, http.StatusBadRequest, errModelRequired)
		return
	}
	m, ok := s.lookup(req.Model)
	if !ok {
		writeError(w, http.StatusNotFound, modelNotFound(req.Model))
		return
	}
	if m.Embedding {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%q does not support chat", req.Model))
		return
	}
	if len(req.Messages) == 0 {
		// An empty chat only loads the model.
		writeJSON(w, http.StatusOK, api.ChatResponse{
			Model: req.Model, CreatedAt: time.Now().UTC(),
			Message: api.Message{Role: "assistant"}, Done: true, DoneReason: "load",
		})
		return
	}

	outcome := s.chatOutcome(req)
	if !s.wait(r.Context(), outcome.Delay) {
		s.abortIfClosed()
		return
	}
	if outcome.Status != 0 && outcome.Status != http.StatusOK {
		writeRaw(w, outcome.Status, outcome.Body)
		return
	}
	reply := outcome.Reply
	promptTokens := 0
	for _, msg := range req.Messages {
		promptTokens += CountTokens(msg.Content)
	}
	// The real server runs a chat in num_ctx tokens (4096 unless asked,
	// capped at the model's trained context) and silently drops the start
	// of a longer prompt, logging "truncating input prompt".
	window := cmp.Or(numCtx(req.Options), DefaultNumCtx)
	window = min(window, m.ContextLength)
	if promptTokens > window {
		promptTokens = window
		s.mu.Lock()
		s.truncated++
		s.mu.Unlock()
	}
	// The real server stops generating after options.num_predict tokens (a
	// Modelfile may set it too) and says so with done_reason "length": the
	// reply is cut wherever it was, even inside a structured-output JSON.
	doneReason := "stop"
	if n := cmp.Or(intOption(req.Options, "num_predict"), m.NumPredict); n > 0 && CountTokens(reply) > n {
		reply, doneReason = TruncateTokens(reply, n), "length"
	}
	final := api.ChatResponse{
		Model:      req.Model,
		Message:    api.Message{Role: "assistant"},
		Done:       true,
		DoneReason: doneReason,
		Metrics: api.Metrics{
			LoadDuration:       time.Millisecond,
			PromptEvalCount:    promptTokens,
			PromptEvalDuration: time.Duration(promptTokens) * 100 * time.Microsecond,
			EvalCount:          CountTokens(reply),
			EvalDuration:       time.Duration(CountTokens(reply)) * time.Millisecond,
		},
	}

	if req.Stream != nil && !*req.Stream {
		final.CreatedAt = time.Now().UTC()
		final.Message.Content = reply
		final.TotalDuration = time.Since(start)
		writeJSON(w, http.StatusOK, final)
		return
	}

	pieces := chunks(reply, 3)
	if hasFormat(req.Format) {
		// Structured output is the scripted reply as is, in one piece.
		pieces = []string{reply}
	}
	brk := s.takeBreak()
	st := newStream(w)
	for i, piece := range pieces {
		if brk != nil && i == brk.after {
			if brk.message != "" {
				st.send(map[string]string{"error": brk.message})
			}
			return
		}
		if !s.wait(r.Context(), delay) {
			s.abortIfClosed()
			return
		}
		if !st.send(api.ChatResponse{
			Model: req.Model, CreatedAt: time.Now().UTC(),
			Message: api.Message{Role: "assistant", Content: piece},
		}) {
			return
		}
	}
	if brk != nil {
		if brk.message != "" {
			st.send(map[string]string{"error": brk.message})
		}
		return
	}
	final.CreatedAt = time.Now().UTC()
	final.TotalDuration = time.Since(start)
	st.send(final)
}

func (s *Server) takeBreak() *streamBreak {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.breakStream) == 0 {
		return nil
	}
	b := s.breakStream[0]
	s.breakStream = s.breakStream[1:]
	return &b
}

func hasFormat(f json.RawMessage) bool {
	t := strings.TrimSpace(string(f))
	return t != "" && t != "null" && t != `""`
}

// chunks cuts text into pieces of n whitespace-separated words each; the
// pieces concatenate back to text exactly, white space included.
func chunks(text string, n int) []string {
	var pieces []string
	last, words := 0, 0
	inWord := false
	for i, r := range text {
		space := unicode.IsSpace(r)
		if !space && !inWord {
			if words > 0 && words%n == 0 {
				pieces = append(pieces, text[last:i])
				last = i
			}
			words++
		}
		inWord = !space
	}
	if last < len(text) || len(pieces) == 0 {
		pieces = append(pieces, text[last:])
	}
	return pieces
}

func (s *Server) pull(w http.ResponseWriter, r *http.Request) {
	var req api.PullRequest
	if !decode(w, r, &req) {
		return
	}
	name := cmp.Or(req.Model, req.Name)
	key, display, ok := nameKey(name)
	if !ok {
		writeError(w, http.StatusBadRequest, errInvalidModelName)
		return
	}
	s.mu.Lock()
	m, found := s.pullable[key]
	if !found {
		// An installed model is in the registry too; pulling it again is a no-op.
		if inst, ok := s.models[key]; ok {
			m, found = inst.Model, true
		}
	}
	delay := s.chunkDelay
	pullErr := errPullNotFound
	if s.offline {
		found = false
		n := model.ParseName(name)
		pullErr = fmt.Sprintf(errPullOffline, n.Namespace+"/"+n.Model+"/manifests/"+n.Tag)
	}
	s.mu.Unlock()

	digest := digestOf(display)
	size := installed{Model: m.withDefaults()}.size()
	layer := "pulling " + digest[7:19]
	steps := []api.ProgressResponse{
		{Status: layer, Digest: digest, Total: size},
		{Status: layer, Digest: digest, Total: size, Completed: size / 2},
		{Status: layer, Digest: digest, Total: size, Completed: size},
		{Status: "verifying sha256 digest"},
		{Status: "writing manifest"},
		{Status: "success"},
	}
	install := func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.install(key, display, m)
	}

	if req.Stream != nil && !*req.Stream {
		if !found {
			writeError(w, http.StatusInternalServerError, pullErr)
			return
		}
		for range steps {
			if !s.wait(r.Context(), delay) {
				return
			}
		}
		install()
		writeJSON(w, http.StatusOK, steps[len(steps)-1])
		return
	}

	st := newStream(w)
	if !st.send(api.ProgressResponse{Status: "pulling manifest"}) {
		return
	}
	if !found {
		st.send(map[string]string{"error": pullErr})
		return
	}
	for _, p := range steps {
		if !s.wait(r.Context(), delay) {
			s.abortIfClosed()
			return
		}
		if p.Status == "writing manifest" {
			install()
		}
		if !st.send(p) {
			return
		}
	}
}
