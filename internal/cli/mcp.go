package cli

import (
	"context"
	"errors"
	"io"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/ragcli/rag/internal/config"
	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/llm"
	"github.com/ragcli/rag/internal/server"
)

// mcpConfigSnippet is what a client's configuration needs to start rag mcp.
const mcpConfigSnippet = `  {
    "mcpServers": {
      "rag": {
        "command": "rag",
        "args": ["mcp"],
        "env": {"RAG_INDEX": "/home/me/.local/share/rag/index"}
      }
    }
  }`

func (a *app) mcpCmd() *cobra.Command {
	var chatModel string
	c := &cobra.Command{
		Use:   "mcp",
		Short: "Serve the index to an MCP client (Claude Code, Cursor...) over stdio",
		Long: `Serve the index to an MCP client over stdin and stdout, for a client that starts
rag itself. The tools only read the index:

  search  the passages that best match a query (k, mode, path prefix or glob)
  get     a chunk by id, or lines of an indexed file
  status  what the index holds
  ask     an answer with cited sources from the local chat model

The server follows the index: what an ingest commits is searchable within a
second, without a restart. Logs go to stderr; stdout carries only the protocol.

A client's configuration (Claude Desktop, Cursor, Claude Code's .mcp.json):

` + mcpConfigSnippet + `

With Claude Code: claude mcp add rag -- rag mcp
--rerank (with --rerank-base-url, or the config file's rerank section)
reorders the tools' best candidates with a reranking model, as rag search
--rerank does; when it fails, results keep the fused order with a warning.
For HTTP clients, see rag serve (MCP at /mcp).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a.global.ChatModel = chatModel
			return a.runMCP(cmd.Context())
		},
	}
	c.Flags().StringVar(&chatModel, "chat-model", "", "Ollama chat model for ask (default $RAG_CHAT_MODEL, the config file, else llama3.2)")
	a.rerankFlags(c.Flags(), &a.rerank)
	return c
}

func (a *app) runMCP(ctx context.Context) error {
	svc, _, _, err := a.openService()
	if err != nil {
		return err
	}
	defer svc.Close()
	t := &mcp.IOTransport{Reader: io.NopCloser(a.s.In), Writer: nopWriteCloser{a.s.Out}}
	err = server.NewMCP(svc, version()).Run(ctx, t)
	if ctx.Err() != nil || errors.Is(err, io.EOF) || errors.Is(err, mcp.ErrConnectionClosed) {
		return ctx.Err() // the client hung up, or we were told to stop
	}
	return err
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// openService opens the long-lived query service the server commands share,
// over the index and models the settings name, and the chat client it asks
// (the chat provider's: Ollama, OpenAI-compatible or Cohere).
func (a *app) openService() (*server.Service, config.Settings, llm.Client, error) {
	s, err := a.settings()
	if err != nil {
		return nil, s, nil, err
	}
	c, err := a.client(s)
	if err != nil {
		return nil, s, nil, err
	}
	st, err := a.openStore(context.Background(), s) // store.go
	if err != nil {
		return nil, s, nil, err
	}
	rr, err := a.rerankerFor(s, a.rerank)
	if err != nil {
		return nil, s, nil, err
	}
	if rr != nil {
		rr = hintedReranker{rr} // a result's warning is all a client sees
	}
	chat, chatContext, err := a.serverChat(s, c) // providers.go
	if err != nil {
		return nil, s, nil, err
	}
	embedFor := a.embeddersFor(s, c, false)
	svc, err := server.Open(server.Config{
		IndexDir: s.Index,
		Store:    st,
		Embedder: func(id string) embed.Embedder {
			e, _, err := embedFor(context.Background(), id, true)
			if err != nil {
				return nil // the vector leg is left out, and each search says why
			}
			return e
		},
		Rerank:      rr,
		RerankDepth: rerankCandidates(s),
		Chat:        chat,
		ChatModel:   s.ChatModel,
		ChatContext: chatContext,
	})
	return svc, s, chat, err
}
