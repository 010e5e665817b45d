package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ragcli/rag/internal/config"
	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/iostreams"
	"github.com/ragcli/rag/internal/ollama"
)

// client returns the Ollama client for the resolved settings. Its long waits
// are shown on stderr, TTY or pipe alike, unless --quiet.
func (a *app) client(s config.Settings) (*ollama.Client, error) {
	c, err := ollama.New(s.OllamaHost)
	if err != nil {
		return nil, withHint(err, "set OLLAMA_HOST (or --ollama-host) to a URL such as http://127.0.0.1:11434")
	}
	if t := a.getenv("RAG_OLLAMA_TIMING"); t != "" {
		if c.Timing, err = parseTiming(t, c.Timing); err != nil {
			return nil, usagef("RAG_OLLAMA_TIMING: %v", err)
		}
	}
	if !a.quiet {
		var mu sync.Mutex
		c.OnWait = func(w ollama.Wait) {
			mu.Lock()
			defer mu.Unlock()
			clear, why := "", ""
			if a.s.ErrTTY {
				clear = "\r\x1b[K" // over the progress line, which redraws itself
			}
			if w.LastErr != nil {
				why = fmt.Sprintf(" (%d failed tries, the last: %s)", w.Tries, oneLine(iostreams.Sanitize(w.LastErr.Error())))
			}
			fmt.Fprintf(a.s.Err, "%srag: waiting for Ollama at %s: no answer for %s%s\n", clear, w.Host, w.Waited.Round(time.Second), why)
		}
	}
	return c, nil
}

// parseTiming reads RAG_OLLAMA_TIMING, a comma-separated list of name=duration
// that overrides the client's deadlines, for tests and slow machines:
// show, embed, per-input, load, chat-first, chat-idle, notice, every,
// retry-initial, retry-max, retry-budget.
func parseTiming(spec string, t ollama.Timing) (ollama.Timing, error) {
	fields := map[string]*time.Duration{
		"show": &t.Show, "embed": &t.Embed, "per-input": &t.EmbedPerInput, "load": &t.Load,
		"chat-first": &t.ChatFirst, "chat-idle": &t.ChatIdle, "notice": &t.WaitNotice, "every": &t.WaitEvery,
		"retry-initial": &t.Retry.Initial, "retry-max": &t.Retry.Max, "retry-budget": &t.Retry.Budget,
	}
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		f := fields[k]
		if !ok || f == nil {
			return t, fmt.Errorf("%q: want name=duration with name one of show, embed, per-input, load, chat-first, chat-idle, notice, every, retry-initial, retry-max, retry-budget", kv)
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return t, fmt.Errorf("%s: %v", k, err)
		}
		*f = d
	}
	return t, nil
}

// embedModel is showModel for a model that must embed: a chat model is
// refused with a *ollama.CapabilityError.
func (a *app) embedModel(ctx context.Context, c *ollama.Client, model string, pull bool) (ollama.ModelInfo, error) {
	info, err := a.showModel(ctx, c, model, pull)
	if err != nil {
		return info, err
	}
	return info, info.Require(model, ollama.CapEmbedding)
}

// chatModel is showModel for a model that must chat: an embedding model is
// refused with a *ollama.CapabilityError.
func (a *app) chatModel(ctx context.Context, c *ollama.Client, model string, pull bool) (ollama.ModelInfo, error) {
	info, err := a.showModel(ctx, c, model, pull)
	if err != nil {
		return info, err
	}
	return info, info.Require(model, ollama.CapCompletion)
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
		hint := "check the model's name and tag (ollama list shows what the server has)"
		if offline(err) {
			hint = fmt.Sprintf("the Ollama server cannot reach its registry (no network?); pull %s where there is network, or copy it into OLLAMA_MODELS", model)
		}
		return info, withHint(fmt.Errorf("pull %s: %s: %w", model, err, missing), "%s", hint)
	}
	return c.Show(ctx, model)
}

// offline tells a pull that failed for want of network (the server could
// not look up or dial its registry) from one for a name it does not have.
func offline(err error) bool {
	m := err.Error()
	return strings.Contains(m, "dial tcp") || strings.Contains(m, "no such host") ||
		strings.Contains(m, "network is unreachable") || strings.Contains(m, "i/o timeout")
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
