package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ragcli/rag/internal/server"
)

type serveOptions struct {
	addr          string
	tokenFile     string
	chatModel     string
	timeout       time.Duration
	maxConcurrent int
	drain         time.Duration
	watch         []string
	watchOptions
}

func (a *app) serveCmd() *cobra.Command {
	var o serveOptions
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve the index over HTTP: MCP at /mcp and a small JSON API",
		Long: `Serve the index over HTTP until SIGTERM or Ctrl-C. These refuse new
connections at once, let the requests under way finish for up to --drain,
cut off those still running then (saying so), and exit 0.

  /mcp              MCP (Streamable HTTP): the tools of rag mcp
  POST /v1/search   {"query", "k", "mode", "path"} -> {"results": [...]}
  POST /v1/ask      {"question", "k", "mode", "path"} -> NDJSON: {"delta"}... then {"done": {answer, sources}}
  GET  /v1/status   what the index holds
  GET  /healthz     {"status": "ok"}

docs/commands.md has every schema. The server follows the index: what an
ingest commits is served within a second.

It listens on loopback (127.0.0.1:7341) by default. Another address is
refused unless a token is set, with --token-file or RAG_SERVE_TOKEN; every
request must then carry "Authorization: Bearer TOKEN". Requests whose Host is
not a loopback name (without a token) or whose Origin is another site are
refused, against DNS rebinding from a browser page. Bodies, k, time and the
requests worked on at once are bounded.

--watch PATH keeps those folders indexed as they change (see rag watch).
--rerank reorders every search's and question's best candidates with a
reranking model, as rag search --rerank does; when the reranker fails, the
fused order stands and the response's warnings say so.`,
		Example: `  rag serve
  curl -s localhost:7341/v1/search -d '{"query": "retry policy", "k": 3}'
  RAG_SERVE_TOKEN=$(cat ~/.config/rag/token) rag serve --addr 0.0.0.0:7341`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.global.ChatModel = o.chatModel
			return a.runServe(cmd.Context(), o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:7341", "address to listen on; beyond loopback a token is required")
	f.StringVar(&o.tokenFile, "token-file", "", "file holding the bearer token every request must carry (default $RAG_SERVE_TOKEN)")
	f.StringVar(&o.chatModel, "chat-model", "", "Ollama chat model for ask (default $RAG_CHAT_MODEL, the config file, else llama3.2)")
	f.DurationVar(&o.timeout, "timeout", server.DefaultTimeout, "deadline of every request")
	f.IntVar(&o.maxConcurrent, "max-concurrent", server.DefaultMaxConcurrent, "requests worked on at once; more wait their turn")
	f.DurationVar(&o.drain, "drain", 30*time.Second, "on SIGTERM, how long requests under way may run before they are cut off")
	f.StringSliceVar(&o.watch, "watch", nil, "also keep these folders indexed as they change, as rag watch does (repeatable)")
	watchFlags(c, &o.watchOptions)
	a.rerankFlags(f, &a.rerank)
	return c
}

// serveToken reads the bearer token from --token-file, else RAG_SERVE_TOKEN.
func (a *app) serveToken(file string) (string, error) {
	if file == "" {
		return strings.TrimSpace(a.getenv("RAG_SERVE_TOKEN")), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", usagef("the token file %s is empty", file)
	}
	return tok, nil
}

func (a *app) runServe(ctx context.Context, o serveOptions) error {
	if o.timeout <= 0 || o.maxConcurrent < 1 || o.drain < 0 {
		return usagef("--timeout must be positive, --max-concurrent at least 1, --drain not negative")
	}
	token, err := a.serveToken(o.tokenFile)
	if err != nil {
		return err
	}
	if token != "" && len(token) < 16 {
		return usagef("the token is too short: use at least 16 characters (e.g. openssl rand -hex 32)")
	}
	if !server.IsLoopback(o.addr) && token == "" {
		return withHint(usagef("refusing to listen on %s without a token: the server holds your documents", o.addr),
			"set RAG_SERVE_TOKEN or --token-file, or listen on loopback (--addr 127.0.0.1:7341)")
	}
	svc, _, _, err := a.openService()
	if err != nil {
		return err
	}
	defer svc.Close()
	l, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log := slog.New(slog.NewTextHandler(a.s.Err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if !a.quiet {
		log = slog.New(slog.NewTextHandler(a.s.Err, nil))
		fmt.Fprintf(a.s.Err, "rag: serving %s on http://%s (MCP at /mcp)\n", svc.IndexDir(), l.Addr())
	}
	if len(o.watch) > 0 {
		wctx, stop := context.WithCancel(ctx)
		defer stop()
		go func() {
			if err := a.runWatch(wctx, o.watch, o.watchOptions); err != nil && wctx.Err() == nil {
				fmt.Fprintf(a.s.Err, "rag: error: watch stopped: %s\n", firstLine(err.Error()))
			}
		}()
	}
	h := server.NewHandler(svc, version(), server.HTTPOptions{Token: token, Timeout: o.timeout, MaxConcurrent: o.maxConcurrent, Log: log})
	err = server.Serve(ctx, l, h, o.drain)
	if errors.Is(err, server.ErrCutOff) {
		// Told to stop, it stopped: the requests it could not finish in
		// time are said, not an error of the run.
		fmt.Fprintf(a.s.Err, "rag: warning: %s\n", err)
		err = nil
	}
	if !a.quiet {
		fmt.Fprintln(a.s.Err, "rag: stopped")
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
