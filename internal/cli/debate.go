package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/ragcli/rag/internal/answer"
	"github.com/ragcli/rag/internal/config"
	"github.com/ragcli/rag/internal/deep"
	"github.com/ragcli/rag/internal/iostreams"
	"github.com/ragcli/rag/internal/llm"
	"github.com/ragcli/rag/internal/ollama"
	"github.com/ragcli/rag/internal/retrieve"
)

// Strategies of --deep-strategy.
const (
	strategyFanout = "fanout"
	strategyDebate = "debate"
)

// DebateAgentJSON is one agent in `rag ask --deep-strategy debate --json`.
type DebateAgentJSON struct {
	Name    string `json:"name"`
	State   string `json:"state"` // "answered" or "failed"
	Sources int    `json:"sources"`
	Error   string `json:"error,omitempty"`
}

// DebateResult is `rag ask --deep-strategy debate --json`.
type DebateResult struct {
	Answer        string              `json:"answer"`
	Model         string              `json:"model"`
	Strategy      string              `json:"strategy"`
	Agents        []DebateAgentJSON   `json:"agents"`
	Disagreements []deep.Disagreement `json:"disagreements"`
	Sources       []AskSource         `json:"sources"`
}

func (a *app) runDebate(ctx context.Context, q string, o askOptions, s config.Settings, chat llm.Client, info ollama.ModelInfo, sess *retrieve.Session) error {
	search := func(ctx context.Context, q string, mode retrieve.Mode, k int) (*retrieve.Outcome, error) {
		return sess.Search(ctx, retrieve.Query{Text: q, K: k, Mode: mode, Paths: o.paths})
	}
	var spin interface{ Stop() }
	if !a.quiet {
		spin = a.s.NewSpinner(fmt.Sprintf("3 agents and an orchestrator at work with %s", s.ChatModel))
		defer spin.Stop()
	}
	res, err := deep.Debate(ctx, deep.DebateOptions{Client: chat, Model: s.ChatModel, ContextLength: answer.Limit(o.maxContext, info.ContextLength),
		Agents: deep.DebateAgents(o.k), Search: search, AgentTimeout: o.workerTimeout}, q)
	if spin != nil {
		spin.Stop()
	}
	if res != nil {
		for _, ag := range res.Agents {
			if ag.Err != nil {
				fmt.Fprintf(a.s.Err, "rag: debate agent %s failed: %s\n", ag.Name, oneLine(iostreams.Sanitize(ag.Err.Error())))
			}
		}
	}
	if err != nil {
		return err
	}
	partial := a.warnRerank(res.RerankSkipped)
	if a.json {
		out := DebateResult{Answer: res.Answer, Model: s.ChatModel, Strategy: strategyDebate, Disagreements: res.Disagreements, Sources: []AskSource{}}
		for _, ag := range res.Agents {
			j := DebateAgentJSON{Name: ag.Name, State: "answered", Sources: ag.Sources}
			if ag.Err != nil {
				j.State, j.Error = "failed", ag.Err.Error()
			}
			out.Agents = append(out.Agents, j)
		}
		for _, src := range res.Sources {
			out.Sources = append(out.Sources, AskSource{N: src.N, Path: src.Path, StartLine: src.StartLine, EndLine: src.EndLine, Page: src.Page, Anchor: src.Anchor, Score: src.Score, Cited: src.Cited})
		}
		if err := a.writeJSON(out); err != nil {
			return err
		}
	} else {
		w := a.s.Out
		fmt.Fprintln(w, strings.TrimRight(iostreams.Sanitize(res.Answer), "\n"))
		if len(res.Disagreements) > 0 {
			fmt.Fprintln(w, "\nWhere the agents disagreed:")
			for _, d := range res.Disagreements {
				cites := ""
				for _, n := range d.Sources {
					cites += fmt.Sprintf("[%d]", n)
				}
				fmt.Fprintf(w, "  - %s %s\n", iostreams.Sanitize(d.Point), cites)
			}
		}
		fmt.Fprintln(w, "\nAgents:")
		for _, ag := range res.Agents {
			if ag.Err != nil {
				fmt.Fprintf(w, "  %s: failed: %s\n", ag.Name, oneLine(iostreams.Sanitize(ag.Err.Error())))
			} else {
				fmt.Fprintf(w, "  %s: answered from %d passages\n", ag.Name, ag.Sources)
			}
		}
		a.printSources(&answer.Answer{Sources: res.Sources})
	}
	if res.Failed() > 0 || partial {
		return partialError{}
	}
	return nil
}
