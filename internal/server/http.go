package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/ragcli/rag/internal/answer"
	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/ollama"
)

// Defaults of HTTPOptions.
const (
	DefaultMaxBody       = 64 << 10 // a search or a question, with room to spare
	DefaultTimeout       = 5 * time.Minute
	DefaultMaxConcurrent = 16
)

// HTTPOptions bound and guard the HTTP front end.
type HTTPOptions struct {
	// Token, when set, must come with every request as "Authorization:
	// Bearer TOKEN". It is required to listen beyond loopback.
	Token string
	// MaxBody bounds a request body in bytes (default DefaultMaxBody).
	MaxBody int64
	// Timeout is every request's deadline (default DefaultTimeout).
	Timeout time.Duration
	// MaxConcurrent bounds the requests worked on at once; more wait their
	// turn within their deadline (default DefaultMaxConcurrent).
	MaxConcurrent int
	// Log receives one line per request: method, path, status, duration.
	// Never a header, a body or the token.
	Log *slog.Logger
}

// IsLoopback reports whether a listen address stays on this machine: an
// explicit loopback IP or "localhost". An empty host (every interface) is
// not loopback.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NewHandler returns the HTTP API over svc: MCP at /mcp (Streamable HTTP),
// POST /v1/search, POST /v1/ask, GET /v1/status and GET /healthz, behind
// the Host, Origin and token checks and the body, time and concurrency
// bounds of o.
func NewHandler(svc *Service, version string, o HTTPOptions) http.Handler {
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = DefaultMaxConcurrent
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	h := &handler{svc: svc, o: o, slots: make(chan struct{}, o.MaxConcurrent)}
	h.streams, h.closeStreams = context.WithCancel(context.Background())
	mcpServer := NewMCP(svc, version)
	mux := http.NewServeMux()
	mux.Handle("/mcp", mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return mcpServer },
		&mcp.StreamableHTTPOptions{MaxRequestBodyBytes: o.MaxBody, SessionTimeout: 10 * time.Minute}))
	mux.HandleFunc("POST /v1/search", h.search)
	mux.HandleFunc("POST /v1/ask", h.ask)
	mux.HandleFunc("GET /v1/status", h.status)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	h.next = mux
	return h
}

type handler struct {
	svc   *Service
	o     HTTPOptions
	slots chan struct{}
	next  http.Handler
	// streams ends MCP's long-lived event streams (GET /mcp) at shutdown:
	// they have no end of their own to drain to.
	streams      context.Context
	closeStreams context.CancelFunc
}

// statusWriter remembers the status for the request log.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		h.o.Log.Info("request", "method", r.Method, "path", r.URL.Path, "status", sw.code, "ms", time.Since(start).Milliseconds())
	}()
	if msg := h.refuse(r); msg != "" {
		code := http.StatusForbidden
		if msg == errUnauthorized {
			code = http.StatusUnauthorized
			sw.Header().Set("WWW-Authenticate", `Bearer realm="rag"`)
		}
		writeError(sw, code, msg)
		return
	}
	r.Body = http.MaxBytesReader(sw, r.Body, h.o.MaxBody)
	if r.URL.Path == "/mcp" && r.Method != http.MethodPost {
		// An MCP client's event stream waits for notifications, holding no
		// work: it takes no slot and lasts until the session or server ends.
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(h.streams, cancel)
		defer stop()
		h.next.ServeHTTP(sw, r.WithContext(ctx))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.o.Timeout)
	defer cancel()
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	case <-ctx.Done():
		writeError(sw, http.StatusServiceUnavailable, "the server is busy: try again")
		return
	}
	h.next.ServeHTTP(sw, r.WithContext(ctx))
}

const errUnauthorized = "missing or wrong bearer token"

// refuse says why a request is refused before it is read, "" when it is not.
// A browser page on another origin must not reach a loopback server through
// DNS rebinding (a name of the attacker's that resolves to 127.0.0.1): with no
// token, the Host must be a loopback name or address; an Origin, when a
// browser sends one, must be the server's own.
func (h *handler) refuse(r *http.Request) string {
	host := r.Host
	if h.o.Token == "" && !loopbackHost(host) {
		return "Host " + quoteHeader(host) + " is not this server's loopback address"
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || !strings.EqualFold(u.Host, host) || u.Scheme != "http" && u.Scheme != "https" {
			return "cross-origin requests are refused (Origin " + quoteHeader(origin) + ")"
		}
	}
	if h.o.Token != "" {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(h.o.Token)) != 1 {
			return errUnauthorized
		}
	}
	return ""
}

// quoteHeader quotes a header value for an error message, cut short.
func quoteHeader(s string) string {
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return fmt.Sprintf("%q", s)
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// decode reads a JSON request body into v, refusing unknown fields.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is larger than %d bytes", tooBig.Limit))
			return false
		}
		writeError(w, http.StatusBadRequest, "the request body is not the JSON expected: "+err.Error())
		return false
	}
	return true
}

func (h *handler) search(w http.ResponseWriter, r *http.Request) {
	var req SearchRequest
	if !decode(w, r, &req) {
		return
	}
	out, err := h.svc.Search(r.Context(), req)
	if err != nil {
		writeServiceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) status(w http.ResponseWriter, r *http.Request) {
	out, err := h.svc.Status(r.Context())
	if err != nil {
		writeServiceError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// AskLine is one line of POST /v1/ask's NDJSON stream: deltas of the answer
// as it is written, then one line with the whole answer and its sources, or
// one with an error.
type AskLine struct {
	Delta string       `json:"delta,omitempty"`
	Done  *AskResponse `json:"done,omitempty"`
	Error *APIError    `json:"error,omitempty"`
}

func (h *handler) ask(w http.ResponseWriter, r *http.Request) {
	var req AskRequest
	if !decode(w, r, &req) {
		return
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	flusher, _ := w.(http.Flusher)
	started := false
	send := func(l AskLine) error {
		if !started {
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.WriteHeader(http.StatusOK)
			started = true
		}
		if err := enc.Encode(l); err != nil {
			return err
		}
		if flusher != nil {
			flusher.Flush()
		}
		return nil
	}
	out, err := h.svc.Ask(r.Context(), req, func(d string) error { return send(AskLine{Delta: d}) })
	switch {
	case err != nil && !started:
		writeServiceError(w, err) // nothing streamed yet: a plain error response
	case err != nil:
		_, e := apiError(err)
		send(AskLine{Error: e})
	default:
		send(AskLine{Done: out})
	}
}

// APIError is the error body of every endpoint: {"error": {"code", "message"}}.
type APIError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]APIError{"error": {Code: codeName(status), Message: msg}})
}

func codeName(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusServiceUnavailable:
		return "unavailable"
	case http.StatusGatewayTimeout:
		return "timeout"
	}
	return "internal"
}

// apiError maps a Service error to its HTTP status and body.
func apiError(err error) (int, *APIError) {
	var usage *UsageError
	var missing *ollama.ModelMissingError
	status := http.StatusInternalServerError
	switch {
	case errors.As(err, &usage):
		status = http.StatusBadRequest
	case errors.Is(err, ErrNoIndex), errors.Is(err, answer.ErrNoSources):
		status = http.StatusNotFound
	case errors.Is(err, context.DeadlineExceeded):
		status = http.StatusGatewayTimeout
	case errors.Is(err, embed.ErrUnavailable), errors.As(err, &missing):
		status = http.StatusServiceUnavailable
	}
	return status, &APIError{Code: codeName(status), Message: toolError(err).Error()}
}

func writeServiceError(w http.ResponseWriter, err error) {
	status, e := apiError(err)
	writeJSON(w, status, map[string]*APIError{"error": e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// ErrCutOff is Serve's error when requests were still running at the end
// of the drain and were cut off.
var ErrCutOff = errors.New("requests still running were cut off")

// Serve answers on l until ctx ends, then stops accepting and lets the
// requests under way finish for up to drain before cutting them off
// (ErrCutOff).
func Serve(ctx context.Context, l net.Listener, h http.Handler, drain time.Duration) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		// Requests run on their own context, so a shutdown drains them
		// rather than cancelling them.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if sh, ok := h.(*handler); ok {
		srv.RegisterOnShutdown(sh.closeStreams)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	dctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	err := srv.Shutdown(dctx)
	if errors.Is(err, context.DeadlineExceeded) {
		srv.Close()
		return fmt.Errorf("%w after the %s drain", ErrCutOff, drain)
	}
	return err
}
