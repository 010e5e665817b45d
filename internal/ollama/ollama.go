// Package ollama is rag's only door to an Ollama server. It wraps the official
// client (github.com/ollama/ollama/api) with deadlines that fit the work, the
// retry policy of package retry, and notices of long waits, and turns the
// server's answers into errors rag can act on: an unreachable or hung server,
// a missing model, a model used for what it cannot do, an input over the
// context length, an answer cut short. It implements embed.Embedder and
// llm.Client. It does not batch or print.
package ollama

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/ollama/ollama/envconfig"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/llm"
	"github.com/ragcli/rag/internal/retry"
)

// DialTimeout: a dial that does not connect within it means the server is down.
const DialTimeout = 3 * time.Second

// Timing holds the deadlines of a Client's calls and of its wait notices.
type Timing struct {
	// Show bounds one /api/show; it reads metadata and loads no model.
	Show time.Duration
	// Embed + EmbedPerInput × inputs bound one /api/embed request, so a big
	// batch gets more time than a query.
	Embed         time.Duration
	EmbedPerInput time.Duration
	// Load is added to the first request of each model this client sends: a
	// real Ollama loads a model on first use, which takes seconds.
	Load time.Duration
	// ChatFirst bounds the wait for the first piece of an answer (the prompt's
	// evaluation, and the load on a first call); ChatIdle the gap between
	// two pieces.
	ChatFirst time.Duration
	ChatIdle  time.Duration
	// WaitNotice is how long a call waits without an answer before OnWait is
	// called, and WaitEvery how often after that. Zero WaitNotice: never.
	WaitNotice time.Duration
	WaitEvery  time.Duration
	// Retry is the policy for transient failures of every call but Pull.
	Retry retry.Policy
}

// DefaultTiming is what New sets.
func DefaultTiming() Timing {
	return Timing{
		Show: 15 * time.Second,
		// The real server with tiny models on a saturated 2-core machine
		// embedded 1 input/s; 0.5 s per input timed batches out there.
		Embed:         60 * time.Second,
		EmbedPerInput: 2 * time.Second,
		Load:          60 * time.Second,
		ChatFirst:     5 * time.Minute,
		ChatIdle:      2 * time.Minute,
		WaitNotice:    10 * time.Second,
		WaitEvery:     15 * time.Second,
		Retry:         retry.Default,
	}
}

// Client talks to one Ollama server. Set its exported fields before the
// first call; after that it is safe for concurrent use.
type Client struct {
	Timing Timing
	// OnWait, when set, is called while a call has had no usable answer for
	// Timing.WaitNotice (retries included), and every Timing.WaitEvery after
	// that. Parallel waits share one notice. It is called from a goroutine of
	// its own.
	OnWait func(Wait)

	api  *api.Client
	host *url.URL
	seen atomic.Bool // the server has answered this client at least once
	// inFlight counts the inputs of the embed requests in flight.
	inFlight atomic.Int64

	mu     sync.Mutex
	loaded map[string]bool      // models that have answered a call
	shown  map[string]ModelInfo // /api/show answers, by model as asked

	waitMu     sync.Mutex
	lastNotice time.Time
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
		Proxy:               nil, // a local server: never route it through a proxy
		DialContext:         (&net.Dialer{Timeout: DialTimeout}).DialContext,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
	}
	return &Client{
		Timing: DefaultTiming(),
		api:    api.NewClient(u, &http.Client{Transport: retryAfterTransport{transport}}),
		host:   u,
		loaded: map[string]bool{},
		shown:  map[string]ModelInfo{},
	}, nil
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

// Ping checks that a server answers, quickly, without retrying.
func (c *Client) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*DialTimeout)
	defer cancel()
	if _, err := c.api.Version(ctx); err != nil {
		return c.classify("", err)
	}
	c.seen.Store(true)
	return nil
}

// Deadline causes, to tell which deadline ended a call.
var (
	errRequestDeadline = errors.New("ollama: request deadline")
	errCallDeadline    = errors.New("ollama: call deadline")
)

// do runs one request under its own deadline d and classifies its error: a
// deadline of its own (or of the call, see callTimeout) becomes a
// *TimeoutError; the caller's own deadline stays the caller's.
func (c *Client) do(ctx context.Context, model string, d time.Duration, fn func(context.Context) error) error {
	rctx, cancel := context.WithTimeoutCause(ctx, d, errRequestDeadline)
	defer cancel()
	rctx, after := withRetryAfter(rctx)
	err := fn(rctx)
	if err == nil {
		c.seen.Store(true)
		return nil
	}
	return c.deadline(ctx, rctx, d, c.classifyAfter(model, err, after.get()))
}

// deadline turns err into a *TimeoutError when rctx ended by a deadline of
// this package's: the request's own (after d) or the whole call's.
func (c *Client) deadline(ctx, rctx context.Context, d time.Duration, err error) error {
	if errors.Is(context.Cause(ctx), errCallDeadline) {
		return &TimeoutError{Host: c.Host(), After: callTimeout(ctx)}
	}
	if ctx.Err() == nil && errors.Is(context.Cause(rctx), errRequestDeadline) {
		return &TimeoutError{Host: c.Host(), After: d, Seen: c.seen.Load()}
	}
	return err
}

type callTimeoutKey struct{}

// withCallTimeout bounds a whole call, retries included, to d.
func withCallTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	ctx = context.WithValue(ctx, callTimeoutKey{}, d)
	return context.WithTimeoutCause(ctx, d, errCallDeadline)
}

func callTimeout(ctx context.Context) time.Duration {
	d, _ := ctx.Value(callTimeoutKey{}).(time.Duration)
	return d
}

// firstCall reports whether model has not yet answered this client, so its
// next request should allow for a load.
func (c *Client) firstCall(model string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.loaded[model]
}

func (c *Client) markLoaded(model string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loaded[model] = true
}

// EmbedDeadline is the deadline of one /api/embed request of n inputs,
// sent while queued other inputs of this client are in flight: a server
// that embeds one request at a time makes a request wait for those before
// it (seen on a loaded 2-core machine against the real server).
func (c *Client) EmbedDeadline(model string, n, queued int) time.Duration {
	d := c.Timing.Embed + time.Duration(n+queued)*c.Timing.EmbedPerInput
	if c.firstCall(model) {
		d += c.Timing.Load
	}
	return d
}

// Embed embeds texts with model, never truncating, retrying transient
// failures. It refuses a model whose /api/show lacks the embedding capability.
func (c *Client) Embed(ctx context.Context, model string, texts []string) ([][]float32, error) {
	return c.embed(ctx, model, texts, 0)
}

// embed is Embed with an optional bound on the whole call (total > 0).
func (c *Client) embed(ctx context.Context, model string, texts []string, total time.Duration) ([][]float32, error) {
	if total > 0 {
		var cancel context.CancelFunc
		ctx, cancel = withCallTimeout(ctx, total)
		defer cancel()
	}
	if err := c.require(ctx, model, CapEmbedding); err != nil {
		return nil, err
	}
	w := c.watch()
	defer w.stop()
	no := false
	var out [][]float32
	err := retry.Do(ctx, c.Timing.Retry, func(ctx context.Context) error {
		queued := int(c.inFlight.Add(int64(len(texts)))) - len(texts)
		defer c.inFlight.Add(-int64(len(texts)))
		return w.note(c.do(ctx, model, c.EmbedDeadline(model, len(texts), queued), func(ctx context.Context) error {
			resp, err := c.api.Embed(ctx, &api.EmbedRequest{Model: model, Input: texts, Truncate: &no})
			if err != nil {
				return err
			}
			c.markLoaded(model)
			if len(resp.Embeddings) != len(texts) {
				return retry.Permanent(fmt.Errorf("ollama returned %d embeddings for %d inputs", len(resp.Embeddings), len(texts)))
			}
			out = resp.Embeddings
			return nil
		}))
	})
	if err != nil {
		return nil, c.callEnded(ctx, err)
	}
	return out, nil
}

// callEnded reports a call's own deadline as its *TimeoutError even when it
// ended during a retry's wait.
func (c *Client) callEnded(ctx context.Context, err error) error {
	if _, ok := errors.AsType[*TimeoutError](err); !ok && errors.Is(context.Cause(ctx), errCallDeadline) {
		return &TimeoutError{Host: c.Host(), After: callTimeout(ctx)}
	}
	return err
}

// ModelInfo is what rag needs to know about a model.
type ModelInfo struct {
	ContextLength int // tokens; 0 when the server does not say
	EmbeddingDim  int // 0 when unknown or not an embedding model
	// Capabilities as the server lists them ("embedding", "completion",
	// "tools", ...); empty from a server too old to say.
	Capabilities []string
}

// CanEmbed reports whether the model makes embeddings (true when the server
// does not list capabilities).
func (i ModelInfo) CanEmbed() bool {
	return len(i.Capabilities) == 0 || slices.Contains(i.Capabilities, CapEmbedding)
}

// CanChat reports whether the model answers chats (true when the server does
// not list capabilities).
func (i ModelInfo) CanChat() bool {
	return len(i.Capabilities) == 0 || slices.Contains(i.Capabilities, CapCompletion)
}

// Require returns a *CapabilityError when model, described by i, lacks want
// (CapEmbedding or CapCompletion).
func (i ModelInfo) Require(model, want string) error {
	if want == CapEmbedding && !i.CanEmbed() || want == CapCompletion && !i.CanChat() {
		return &CapabilityError{Model: model, Want: want}
	}
	return nil
}

// require checks model's capability against the client's /api/show of it,
// asking the server once when it has not been asked yet.
func (c *Client) require(ctx context.Context, model, want string) error {
	c.mu.Lock()
	info, ok := c.shown[model]
	c.mu.Unlock()
	if !ok {
		var err error
		if info, err = c.Show(ctx, model); err != nil {
			return err
		}
	}
	return info.Require(model, want)
}

// Show asks the server about model.
func (c *Client) Show(ctx context.Context, model string) (ModelInfo, error) {
	var resp *api.ShowResponse
	err := retry.Do(ctx, c.Timing.Retry, func(ctx context.Context) error {
		return c.do(ctx, model, c.Timing.Show, func(ctx context.Context) error {
			var err error
			resp, err = c.api.Show(ctx, &api.ShowRequest{Model: model})
			return err
		})
	})
	if err != nil {
		return ModelInfo{}, c.callEnded(ctx, err)
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
	for _, cp := range resp.Capabilities {
		info.Capabilities = append(info.Capabilities, string(cp))
	}
	c.mu.Lock()
	c.shown[model] = info
	c.mu.Unlock()
	return info, nil
}

// Pull downloads model, reporting progress. It is not retried: the server
// resumes a pull itself.
func (c *Client) Pull(ctx context.Context, model string, progress func(status string, completed, total int64)) error {
	err := c.api.Pull(ctx, &api.PullRequest{Model: model}, func(p api.ProgressResponse) error {
		if progress != nil {
			progress(p.Status, p.Completed, p.Total)
		}
		return nil
	})
	return c.classify(model, err)
}

// deliveryError carries an error of the caller's onDelta through the retry
// loop untouched and unretried.
type deliveryError struct{ err error }

func (e deliveryError) Error() string   { return e.err.Error() }
func (e deliveryError) Unwrap() error   { return e.err }
func (e deliveryError) Transient() bool { return false }

// Chat streams one answer. A failure before any piece of the answer was
// delivered is retried like any call; after that, the error is a *CutError,
// since what was shown cannot be taken back. A stream that ends without its
// final line is ErrIncomplete. It refuses a model whose /api/show lacks the
// completion capability.
func (c *Client) Chat(ctx context.Context, req llm.Request, onDelta func(string) error) (llm.Response, error) {
	if err := c.require(ctx, req.Model, CapCompletion); err != nil {
		return llm.Response{}, err
	}
	w := c.watch()
	defer w.stop()
	delivered := false
	deliver := func(s string) error {
		w.touch()
		delivered = true
		if onDelta != nil {
			if err := onDelta(s); err != nil {
				return deliveryError{err}
			}
		}
		return nil
	}
	var out llm.Response
	err := retry.Do(ctx, c.Timing.Retry, func(ctx context.Context) error {
		var err error
		out, err = c.chatOnce(ctx, req, w, deliver)
		w.note(err)
		if err != nil && delivered {
			if de, ok := errors.AsType[deliveryError](err); ok {
				return de
			}
			if errors.Is(err, ErrIncomplete) {
				return retry.Permanent(err)
			}
			if !errors.Is(err, context.Canceled) {
				return &CutError{Err: err}
			}
		}
		return err
	})
	if de, ok := errors.AsType[deliveryError](err); ok {
		return out, de.err
	}
	if errors.Is(err, ErrIncomplete) {
		return out, ErrIncomplete
	}
	return out, err
}

// chatOnce is one streamed /api/chat request. A first-piece deadline (with
// the model's load on a first call) and an idle deadline between pieces
// bound it, so a stalled server fails instead of hanging.
func (c *Client) chatOnce(ctx context.Context, req llm.Request, w *waiter, deliver func(string) error) (llm.Response, error) {
	first := c.Timing.ChatFirst
	if c.firstCall(req.Model) {
		first += c.Timing.Load
	}
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	rctx, after := withRetryAfter(rctx)
	idle := time.AfterFunc(first, func() { cancel(ErrChatIdle) })
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
	err := c.api.Chat(rctx, ar, func(r api.ChatResponse) error {
		c.seen.Store(true)
		c.markLoaded(req.Model)
		idle.Reset(c.Timing.ChatIdle)
		if r.Message.Content != "" {
			b.WriteString(r.Message.Content)
			if err := deliver(r.Message.Content); err != nil {
				return err
			}
		}
		if r.Done {
			done = true
			out.PromptTokens = r.PromptEvalCount
			out.OutputTokens = r.EvalCount
			out.CutAtLimit = r.DoneReason == "length"
		}
		return nil
	})
	out.Content = b.String()
	switch {
	case err == nil && !done:
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		if errors.Is(context.Cause(rctx), ErrChatIdle) {
			return out, c.idleError(first, b.Len() > 0)
		}
		return out, incomplete{host: c.Host()}
	case err == nil:
		return out, nil
	case errors.As(err, new(deliveryError)):
		return out, err
	case errors.Is(context.Cause(rctx), ErrChatIdle) && ctx.Err() == nil:
		return out, c.idleError(first, b.Len() > 0)
	}
	cerr := c.classifyAfter(req.Model, err, after.get())
	if cerr == err && !errors.As(err, new(api.StatusError)) && ctx.Err() == nil {
		// An error line inside a 200 stream: the runner failed mid-answer.
		cerr = &StreamError{Host: c.Host(), Msg: err.Error()}
	}
	return out, cerr
}

func (c *Client) idleError(first time.Duration, started bool) error {
	if !started {
		return fmt.Errorf("%w: %w", &TimeoutError{Host: c.Host(), After: first, Seen: c.seen.Load()}, ErrChatIdle)
	}
	return fmt.Errorf("ollama at %s stopped answering for %s: %w", c.Host(), c.Timing.ChatIdle.Round(time.Second), ErrChatIdle)
}

// Embedder is an embed.Embedder for one model on one server.
type Embedder struct {
	Client *Client
	Name   string
	// Timeout, when set, bounds each Embed call as a whole, retries
	// included: a query embedding's own short deadline. Past it the call
	// fails with a *TimeoutError, which is an embed.ErrUnavailable.
	Timeout time.Duration
}

// Embed implements embed.Embedder.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	return e.Client.embed(ctx, e.Name, texts, e.Timeout)
}

// Model implements embed.Embedder.
func (e *Embedder) Model() string { return e.Name }

var (
	_ embed.Embedder = (*Embedder)(nil)
	_ llm.Client     = (*Client)(nil)
)
