package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ragcli/rag/internal/config"
	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/iostreams"
	"github.com/ragcli/rag/internal/ollama"
)

// client returns the Ollama client for the resolved settings.
func (a *app) client(s config.Settings) (*ollama.Client, error) {
	c, err := ollama.New(s.OllamaHost)
	if err != nil {
		return nil, withHint(err, "set OLLAMA_HOST (or --ollama-host) to a URL such as http://127.0.0.1:11434")
	}
	return c, nil
}

// showModel asks the server about model; with pull set, a missing model is
// pulled (with a progress line) and asked about again.
func (a *app) showModel(ctx context.Context, c *ollama.Client, model string, pull bool) (ollama.ModelInfo, error) {
	info, err := c.Show(ctx, model)
	var missing *ollama.ModelMissingError
	if !pull || !errors.As(err, &missing) {
		return info, err
	}
	p := a.progress()
	if !a.s.ErrTTY && !a.quiet {
		fmt.Fprintf(a.s.Err, "rag: pulling %s\n", model)
	}
	err = c.Pull(ctx, model, func(status string, done, total int64) {
		if total > 0 {
			p.Update("pulling %s: %s %3.0f%%", model, status, 100*float64(done)/float64(total))
		} else {
			p.Update("pulling %s: %s", model, status)
		}
	})
	p.Done()
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, embed.ErrUnavailable) {
			return info, err
		}
		// Still missing: exit as a missing model does, with what the server said.
		return info, withHint(fmt.Errorf("pull %s: %s: %w", model, err, missing),
			"check the model's name and tag (ollama list shows what the server has)")
	}
	return c.Show(ctx, model)
}

// writeJSON prints v as one JSON document on stdout.
func (a *app) writeJSON(v any) error {
	a.wroteJSON = true
	v = emptyLists(v)
	enc := json.NewEncoder(a.s.Out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// progress returns the stderr progress line, silent with --quiet or --json
// off a terminal.
func (a *app) progress() *iostreams.Progress {
	if a.quiet {
		return nil
	}
	return a.s.NewProgress()
}
