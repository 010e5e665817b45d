package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/iostreams"
)

// The tools' descriptions are written for the model that picks them.
const (
	searchDesc = `Search the user's own indexed documents (notes, papers, code, PDFs) and return the passages that best match, best first, each with its file path, line range (or PDF page) and a chunk id.
Use it to find where something is written or to gather facts before answering. Hybrid mode (the default) matches both exact words and meaning; use lexical for identifiers or exact phrases. Narrow with path (a folder prefix or a glob such as *.md).`
	getDesc = `Read indexed text in full: a chunk by the id a search returned, or a range of lines of an indexed file (path as search results show it). Only files in the index can be read.
Use it to see the context around a search hit.`
	statusDesc = `Describe the index: where it is, which embedding model built it, how many files and chunks it holds, how many are not embedded yet, and when it was last updated.`
	askDesc    = `Answer a question from the user's indexed documents with the local chat model, citing the passages it used as [n]; the sources list says which file and lines each number is.
Slower than search (a model writes the answer); prefer search when you can read the passages yourself.`
)

// NewMCP returns an MCP server with rag's tools over svc. It only reads.
func NewMCP(svc *Service, version string) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "rag", Title: "rag: search your local documents", Version: version},
		&mcp.ServerOptions{Instructions: "rag searches the user's local documents. Call search first; get reads a hit's context; ask writes a cited answer with a local model."})
	readOnly := &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: new(bool)}
	mcp.AddTool(s, &mcp.Tool{Name: "search", Description: searchDesc, Annotations: readOnly, InputSchema: searchSchema[SearchRequest]()},
		func(ctx context.Context, _ *mcp.CallToolRequest, in SearchRequest) (*mcp.CallToolResult, *SearchResponse, error) {
			ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
			defer cancel()
			out, err := svc.Search(ctx, in)
			return nil, out, toolError(err)
		})
	mcp.AddTool(s, &mcp.Tool{Name: "get", Description: getDesc, Annotations: readOnly, InputSchema: getSchema()},
		func(ctx context.Context, _ *mcp.CallToolRequest, in GetRequest) (*mcp.CallToolResult, *GetResponse, error) {
			ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
			defer cancel()
			out, err := svc.Get(ctx, in)
			return nil, out, toolError(err)
		})
	mcp.AddTool(s, &mcp.Tool{Name: "status", Description: statusDesc, Annotations: readOnly},
		func(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, *Status, error) {
			ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
			defer cancel()
			out, err := svc.Status(ctx)
			return nil, out, toolError(err)
		})
	mcp.AddTool(s, &mcp.Tool{Name: "ask", Description: askDesc, Annotations: readOnly, InputSchema: searchSchema[AskRequest]()},
		func(ctx context.Context, req *mcp.CallToolRequest, in AskRequest) (*mcp.CallToolResult, *AskResponse, error) {
			ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
			defer cancel()
			out, err := svc.Ask(ctx, in, progress(ctx, req))
			return nil, out, toolError(err)
		})
	return s
}

// progress returns an answer's delta callback that tells the client how far
// the answer has got, at most every 200 ms, when the client asked for
// progress.
func progress(ctx context.Context, req *mcp.CallToolRequest) func(string) error {
	token := req.Params.GetProgressToken()
	if token == nil || req.Session == nil {
		return nil
	}
	var chars int
	var last time.Time
	notify := func(msg string) {
		req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: token, Progress: float64(chars), Message: msg})
	}
	notify("retrieving passages")
	return func(d string) error {
		first := chars == 0
		chars += len(d)
		if first || time.Since(last) >= 200*time.Millisecond {
			last = time.Now()
			notify(fmt.Sprintf("answering: %d characters so far", chars))
		}
		return nil
	}
}

// toolError turns a Service error into the one-line message a tool result
// carries: what went wrong and, where it helps, what to do.
func toolError(err error) error {
	if err == nil {
		return nil
	}
	var usage *UsageError
	switch {
	case errors.As(err, &usage):
		return usage
	case errors.Is(err, context.Canceled):
		return errors.New("cancelled")
	case errors.Is(err, context.DeadlineExceeded):
		return errors.New("timed out")
	case errors.Is(err, embed.ErrUnavailable):
		return fmt.Errorf("%s; search with mode lexical works without it", iostreams.Sanitize(firstLine(err.Error())))
	case errors.Is(err, index.ErrNoIndex):
		return ErrNoIndex
	}
	return errors.New(iostreams.Sanitize(firstLine(err.Error())))
}

// searchSchema is the inferred schema of a search-like request, with k's
// bounds and mode's values spelled out.
func searchSchema[T any]() *jsonschema.Schema {
	sc, err := jsonschema.For[T](nil)
	if err != nil {
		panic(err)
	}
	if k := sc.Properties["k"]; k != nil {
		k.Minimum, k.Maximum = new(float64), new(float64)
		*k.Minimum, *k.Maximum = 1, MaxK
	}
	if m := sc.Properties["mode"]; m != nil {
		m.Enum = []any{"hybrid", "vector", "lexical"}
	}
	return sc
}

func getSchema() *jsonschema.Schema {
	sc, err := jsonschema.For[GetRequest](nil)
	if err != nil {
		panic(err)
	}
	for _, name := range []string{"id", "start_line", "end_line"} {
		if p := sc.Properties[name]; p != nil {
			p.Minimum = new(float64)
			*p.Minimum = 1
		}
	}
	return sc
}
