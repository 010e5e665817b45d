// Package ollama is rag's only door to an Ollama server. It wraps the official
// client (github.com/ollama/ollama/api) with deadlines on every call and turns
// the server's answers into errors rag can act on: an unreachable server, a
// missing model, an input over the context length. It implements embed.Embedder
// and llm.Client. It does not batch, retry or print.
package ollama

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/envconfig"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/llm"
	"github.com/ragcli/rag/internal/provider"
)

// Deadlines for calls. A dial that does not connect within DialTimeout means the
// server is down; the others bound a model load plus the work itself.
const (
	DialTimeout  = 3 * time.Second
	EmbedTimeout = 5 * time.Minute
	ShowTimeout  = 30 * time.Second
	// ChatIdleTimeout bounds the wait for the first byte of an answer (a model
	// load) and the gap between two streamed pieces.
	ChatIdleTimeout = 5 * time.Minute
)

// UnreachableError reports that no Ollama server answered at Host.
type UnreachableError struct {
	Host string
	Err  error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach ollama at %s", e.Host)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Is makes an UnreachableError an embed.ErrUnavailable.
func (e *UnreachableError) Is(target error) bool { return target == embed.ErrUnavailable }

// ModelMissingError reports that the server does not have Model.
type ModelMissingError struct {
	Model string
	Host  string
}

func (e *ModelMissingError) Error() string {
	return fmt.Sprintf("model %q not found on %s", e.Model, e.Host)
}

// Is makes a ModelMissingError a provider.ErrModelMissing, as every
// provider's is.
func (e *ModelMissingError) Is(target error) bool { return target == provider.ErrModelMissing }

// StatusError is an error answer from the server that rag has no more
// specific error for, such as a 500. Callers can tell transient from
// permanent failures by its StatusCode.
type StatusError struct {
	Host string
	Code int
	Msg  string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("ollama at %s answered %d: %s", e.Host, e.Code, e.Msg)
}

// StatusCode is the HTTP status the server answered with.
func (e *StatusError) StatusCode() int { return e.Code }

// Client talks to one Ollama server.
type Client struct {
	api  *api.Client
	host *url.URL
}

// New returns a client for host ("http://127.0.0.1:11434"), or for OLLAMA_HOST,
// read the way Ollama's own client reads it, when host is empty.
func New(host string) (*Client, error) {
	var u *url.URL
	if host == "" {
		u = envconfig.Host()
	} else {
		var err error
		if u, err = parseHost(host); err != nil {
			return nil, err
		}
	}
	transport := &http.Transport{
		Proxy:                 nil, // a local server: never route it through a proxy
		DialContext:           (&net.Dialer{Timeout: DialTimeout}).DialContext,
		ResponseHeaderTimeout: ChatIdleTimeout,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
	}
	return &Client{api: api.NewClient(u, &http.Client{Transport: transport}), host: u}, nil
}

// parseHost reads host with the rules Ollama applies to OLLAMA_HOST: scheme
// http unless given, port 11434 unless given (80/443 for an explicit
// http/https scheme without port).
func parseHost(host string) (*url.URL, error) {
	s := strings.TrimSpace(host)
	scheme, hostport, ok := strings.Cut(s, "://")
	defaultPort := "11434"
	switch {
	case !ok:
		scheme, hostport = "http", s
	case scheme == "http":
		defaultPort = "80"
	case scheme == "https":
		defaultPort = "443"
	default:
		return nil, fmt.Errorf("parse ollama host %q: scheme must be http or https", host)
	}
	hostport, path, _ := strings.Cut(hostport, "/")
	if _, err := url.Parse(scheme + "://" + hostport); err != nil {
		return nil, fmt.Errorf("parse ollama host %q: %w", host, err)
	}
	h, port, err := net.SplitHostPort(hostport)
	if err != nil {
		h, port = strings.Trim(hostport, "[]"), defaultPort
		if h == "" {
			h = "127.0.0.1"
		}
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return nil, fmt.Errorf("parse ollama host %q: bad port %q", host, port)
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(h, port)}
	if path != "" {
		u.Path = "/" + path
	}
	return u, nil
}

// Host is the server's URL, for messages.
func (c *Client) Host() string { return c.host.String() }

// classify turns a transport or API error into one of the package's errors.
func (c *Client) classify(model string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var ae api.AuthorizationError
	if errors.As(err, &ae) {
		return &provider.AuthError{Host: c.Host(), Status: ae.StatusCode}
	}
	var se api.StatusError
	if errors.As(err, &se) {
		msg := strings.ToLower(se.ErrorMessage)
		switch {
		case se.StatusCode == http.StatusNotFound && strings.Contains(msg, "not found"):
			return &ModelMissingError{Model: model, Host: c.Host()}
		case se.StatusCode == http.StatusBadRequest && strings.Contains(msg, "context length"):
			return fmt.Errorf("%w: %s", embed.ErrInputTooLong, se.ErrorMessage)
		case se.StatusCode == http.StatusUnauthorized || se.StatusCode == http.StatusForbidden:
			// A proxy in front of Ollama that wants credentials.
			return &provider.AuthError{Host: c.Host(), Status: se.StatusCode, Msg: strings.TrimSpace(se.ErrorMessage)}
		}
		return &StatusError{Host: c.Host(), Code: se.StatusCode, Msg: strings.TrimSpace(se.ErrorMessage)}
	}
	var ne net.Error
	var oe *net.OpError
	if errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &oe) && oe.Op == "dial" ||
		errors.As(err, &ne) && ne.Timeout() && !errors.Is(err, context.DeadlineExceeded) ||
		// The server went away mid-request.
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return &UnreachableError{Host: c.Host(), Err: err}
	}
	var ue *url.Error
	if errors.As(err, &ue) && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("ollama at %s did not answer in time: %w", c.Host(), context.DeadlineExceeded)
	}
	return err
}

// Ping checks that a server answers, quickly.
func (c *Client) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*DialTimeout)
	defer cancel()
	if _, err := c.api.Version(ctx); err != nil {
		return c.classify("", err)
	}
	return nil
}

// Embed embeds texts with model, never truncating.
func (c *Client) Embed(ctx context.Context, model string, texts []string) ([][]float32, error) {
	ctx, cancel := context.WithTimeout(ctx, EmbedTimeout)
	defer cancel()
	no := false
	resp, err := c.api.Embed(ctx, &api.EmbedRequest{Model: model, Input: texts, Truncate: &no})
	if err != nil {
		return nil, c.classify(model, err)
	}
	if len(resp.Embeddings) != len(texts) {
		return nil, fmt.Errorf("ollama returned %d embeddings for %d inputs", len(resp.Embeddings), len(texts))
	}
	return resp.Embeddings, nil
}

// ModelInfo is what rag needs to know about a model.
type ModelInfo struct {
	ContextLength int // tokens; 0 when the server does not say
	EmbeddingDim  int // 0 when unknown or not an embedding model
}

// Show asks the server about model.
func (c *Client) Show(ctx context.Context, model string) (ModelInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, ShowTimeout)
	defer cancel()
	resp, err := c.api.Show(ctx, &api.ShowRequest{Model: model})
	if err != nil {
		return ModelInfo{}, c.classify(model, err)
	}
	var info ModelInfo
	for k, v := range resp.ModelInfo {
		n, ok := v.(float64)
		if !ok {
			continue
		}
		switch {
		case strings.HasSuffix(k, ".context_length"):
			info.ContextLength = int(n)
		case strings.HasSuffix(k, ".embedding_length"):
			info.EmbeddingDim = int(n)
		}
	}
	return info, nil
}

// Pull downloads model, reporting progress.
func (c *Client) Pull(ctx context.Context, model string, progress func(status string, completed, total int64)) error {
	err := c.api.Pull(ctx, &api.PullRequest{Model: model}, func(p api.ProgressResponse) error {
		if progress != nil {
			progress(p.Status, p.Completed, p.Total)
		}
		return nil
	})
	return c.classify(model, err)
}

// Chat streams one answer. Every piece resets an idle deadline, so a stalled
// server fails instead of hanging.
func (c *Client) Chat(ctx context.Context, req llm.Request, onDelta func(string) error) (llm.Response, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := time.AfterFunc(ChatIdleTimeout, func() { cancel(ErrChatIdle) })
	defer idle.Stop()

	msgs := make([]api.Message, len(req.Messages))
	for i, m := range req.Messages {
		msgs[i] = api.Message{Role: m.Role, Content: m.Content}
	}
	opts := map[string]any{}
	if req.NumCtx > 0 {
		opts["num_ctx"] = req.NumCtx
	}
	if req.Temperature != nil {
		opts["temperature"] = *req.Temperature
	}
	ar := &api.ChatRequest{Model: req.Model, Messages: msgs, Options: opts}
	if len(req.Format) > 0 {
		ar.Format = json.RawMessage(req.Format)
		if !json.Valid(req.Format) { // a bare word such as json
			ar.Format, _ = json.Marshal(string(req.Format))
		}
	}
	var out llm.Response
	var b strings.Builder
	done := false
	err := c.api.Chat(ctx, ar, func(r api.ChatResponse) error {
		idle.Reset(ChatIdleTimeout)
		if r.Message.Content != "" {
			b.WriteString(r.Message.Content)
			if onDelta != nil {
				if err := onDelta(r.Message.Content); err != nil {
					return err
				}
			}
		}
		if r.Done {
			done = true
			out.PromptTokens = r.PromptEvalCount
			out.OutputTokens = r.EvalCount
		}
		return nil
	})
	out.Content = b.String()
	if err == nil && !done {
		// The official client ends a stream cut short (a cancellation, a
		// dropped connection) without an error: never pass off part of an
		// answer as the whole.
		err = context.Cause(ctx)
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
	}
	if err != nil {
		if errors.Is(context.Cause(ctx), ErrChatIdle) {
			return out, fmt.Errorf("ollama at %s stopped answering: %w", c.Host(), ErrChatIdle)
		}
		return out, c.classify(req.Model, err)
	}
	return out, nil
}

// ErrChatIdle: the server stopped streaming an answer for ChatIdleTimeout.
var ErrChatIdle = errors.New("no answer within the idle timeout")

// Embedder is an embed.Embedder for one model on one server.
type Embedder struct {
	Client *Client
	Name   string
}

// Embed implements embed.Embedder.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	return e.Client.Embed(ctx, e.Name, texts)
}

// Model implements embed.Embedder.
func (e *Embedder) Model() string { return e.Name }

var (
	_ embed.Embedder = (*Embedder)(nil)
	_ llm.Client     = (*Client)(nil)
)
