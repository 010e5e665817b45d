package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-runewidth"

	"github.com/ragcli/rag/internal/answer"
	"github.com/ragcli/rag/internal/config"
	"github.com/ragcli/rag/internal/deep"
	"github.com/ragcli/rag/internal/iostreams"
	"github.com/ragcli/rag/internal/llm"
	"github.com/ragcli/rag/internal/ollama"
	"github.com/ragcli/rag/internal/retrieve"
)

// deepOptions are ask's --deep flags. askOptions embeds them.
type deepOptions struct {
	deep          bool
	maxAgents     int
	parallel      int // 0: OLLAMA_NUM_PARALLEL, else deep.DefaultParallel
	workerTimeout time.Duration
}

// DeepSource is one source in `rag ask --deep --json`: AskSource's fields.
type DeepSource = AskSource

// DeepVerification is the checker's verdict on one part.
type DeepVerification struct {
	Checked   bool   `json:"checked"`
	Supported bool   `json:"supported"`
	Critique  string `json:"critique,omitempty"`
	Checks    int    `json:"checks"`
}

// DeepPart is one sub-question and its worker's outcome in `rag ask --deep --json`.
type DeepPart struct {
	Question     string           `json:"question"`
	Status       string           `json:"status"` // verified, unverified or failed
	Answer       string           `json:"answer"` // "" when failed
	Error        string           `json:"error,omitempty"`
	Sources      []DeepSource     `json:"sources"`
	Verification DeepVerification `json:"verification"`
	Attempts     int              `json:"attempts"`
}

// DeepResult is `rag ask --deep --json`. The schema is stable; see docs/deep.md.
type DeepResult struct {
	Question string       `json:"question"`
	Model    string       `json:"model"`
	Plan     []string     `json:"plan"`
	Parts    []DeepPart   `json:"parts"`
	Answer   string       `json:"answer"`
	Sources  []DeepSource `json:"sources"`
	Calls    int          `json:"calls"`
}

// check refuses bad --deep flags.
func (d deepOptions) check() error {
	if d.maxAgents < 1 {
		return usagef("--max-agents must be at least 1")
	}
	if d.parallel < 0 {
		return usagef("--parallel must be at least 1 (0 for the server's own setting)")
	}
	if d.workerTimeout <= 0 {
		return usagef("--worker-timeout must be positive")
	}
	return nil
}

// runDeep answers q with a team of agents (package deep) over the session's
// snapshot, their retrievals side by side. answered is false, with no error,
// when the model's plan was unusable: runDeep has told the user, and runAsk
// goes on with a plain answer.
func (a *app) runDeep(ctx context.Context, q string, o askOptions, s config.Settings, c llm.Client, info ollama.ModelInfo, sess *retrieve.Session) (answered bool, err error) {
	d := o.deepOptions
	parallel := d.parallel
	if parallel == 0 {
		parallel = serverParallel(a.getenv("OLLAMA_NUM_PARALLEL"), deep.DefaultParallel)
	}
	view := &deepView{a: a, on: !a.quiet}
	res, err := deep.Run(ctx, deep.Options{
		Client:        c,
		Model:         s.ChatModel,
		ContextLength: answer.Limit(o.maxContext, info.ContextLength),
		PassageTokens: o.k * sess.Meta().ChunkTokens,
		MaxAgents:     d.maxAgents,
		Parallel:      parallel,
		WorkerTimeout: d.workerTimeout,
		Retrieve: func(ctx context.Context, q string) (*retrieve.Outcome, error) {
			return sess.Search(ctx, retrieve.Query{Text: q, K: o.k})
		},
		OnEvent: view.event,
	}, q)
	view.finish()
	if pe, ok := errors.AsType[*deep.PlanError](err); ok {
		fmt.Fprintf(a.s.Err, "rag: warning: the model's plan was not usable (%s); answering without --deep\n", pe.Reason)
		return false, nil
	}
	if _, ok := errors.AsType[*deep.AllFailedError](err); ok && ctx.Err() == nil {
		return true, withHint(err, "each part's reason is above; check the server (rag doctor), give slow models more time (--worker-timeout), or ask without --deep")
	}
	if err != nil {
		return true, err
	}
	partial := a.warnRetrieval(sessionPending(sess), sess.Skipped())
	partial = a.warnRerank(res.RerankSkipped) || partial
	if res.FinalError != "" {
		fmt.Fprintf(a.s.Err, "rag: warning: the final answer could not be written (%s); showing each part's answer\n", firstLine(res.FinalError))
	}
	if n := res.Failed(); n > 0 {
		fmt.Fprintf(a.s.Err, "rag: warning: %d of %d parts could not be answered; the answer says which\n", n, len(res.Parts))
		partial = true
	}
	if err := a.renderDeep(res, s.ChatModel); err != nil {
		return true, err
	}
	if partial {
		return true, partialError{}
	}
	return true, nil
}

// sessionPending is the number of chunks a session's searches found by their
// words only.
func sessionPending(sess *retrieve.Session) int {
	if sess.Mode() == retrieve.Lexical {
		return 0
	}
	return sess.Meta().Pending
}

func (a *app) renderDeep(res *deep.Result, model string) error {
	if a.json {
		return a.writeJSON(deepJSON(res, model))
	}
	text := iostreams.Sanitize(res.Answer)
	if a.s.OutTTY {
		text = renderMarkdown(text, a.s.Width)
	}
	fmt.Fprint(a.s.Out, text)
	if !strings.HasSuffix(text, "\n") {
		fmt.Fprintln(a.s.Out)
	}
	a.printSources(&answer.Answer{Sources: res.Sources})
	return nil
}

// serverParallel is how many requests the Ollama server serves at once, as
// far as the client can tell: OLLAMA_NUM_PARALLEL when set (the server reads
// the same variable, when it runs on this machine), else def.
func serverParallel(env string, def int) int {
	if n, err := strconv.Atoi(strings.TrimSpace(env)); err == nil && n > 0 {
		return n
	}
	return def
}

func deepSources(srcs []answer.Source) []DeepSource {
	out := make([]DeepSource, len(srcs))
	for i, s := range srcs {
		out[i] = DeepSource{N: s.N, Path: s.Path, StartLine: s.StartLine, EndLine: s.EndLine, Page: s.Page, Score: s.Score, Cited: s.Cited}
	}
	return out
}

func deepJSON(res *deep.Result, model string) DeepResult {
	out := DeepResult{Question: res.Question, Model: model, Plan: res.Plan, Answer: res.Answer, Sources: deepSources(res.Sources), Calls: res.Calls}
	for _, p := range res.Parts {
		v := p.Verification
		out.Parts = append(out.Parts, DeepPart{
			Question: p.Question, Status: string(p.State), Answer: p.Answer, Error: p.Error,
			Sources:      deepSources(p.Sources),
			Verification: DeepVerification{Checked: v.Checked, Supported: v.Supported, Critique: v.Critique, Checks: v.Checks},
			Attempts:     p.Attempts,
		})
	}
	return out
}

// deepView shows a deep run's progress on stderr: on a terminal a block of
// lines, the plan with each worker's state, redrawn in place; in a pipe one
// plain line per change.
type deepView struct {
	a      *app
	on     bool
	phase  string
	plan   []string
	states []deep.State
	notes  []string
	drawn  int // lines of the block on screen
}

func (v *deepView) event(e deep.Event) {
	if !v.on {
		return
	}
	w := v.a.s.Err
	tty := v.a.s.ErrTTY
	part := func(i int) string { return fmt.Sprintf("part %d/%d", i+1, len(v.plan)) }
	switch e.Step {
	case deep.StepPlanning:
		v.phase = "planning"
		if !tty {
			fmt.Fprintln(w, "rag: deep: asking for a plan")
		}
	case deep.StepPlanned:
		v.plan = make([]string, len(e.Plan))
		for i, q := range e.Plan {
			v.plan[i] = iostreams.Sanitize(q)
		}
		v.states = make([]deep.State, len(e.Plan))
		v.notes = make([]string, len(e.Plan))
		v.phase = "working"
		if !tty {
			fmt.Fprintf(w, "rag: deep: plan of %d parts\n", len(v.plan))
			for i, q := range v.plan {
				fmt.Fprintf(w, "rag: deep:   %d. %s\n", i+1, q)
			}
		}
	case deep.StepWorker:
		v.states[e.Worker], v.notes[e.Worker] = e.State, iostreams.Sanitize(e.Note)
		if !tty && e.State != deep.Queued { // every part starts queued: the plan said so
			line := fmt.Sprintf("rag: deep: %s: %s", part(e.Worker), e.State)
			if e.Note != "" {
				line += ": " + v.notes[e.Worker]
			}
			fmt.Fprintln(w, line)
		}
	case deep.StepRetry:
		note := iostreams.Sanitize(e.Note)
		who := "plan or final answer"
		if e.Worker >= 0 && e.Worker < len(v.plan) {
			who = part(e.Worker)
			v.notes[e.Worker] = "retrying: " + note
		}
		if !tty {
			fmt.Fprintf(w, "rag: deep: %s: trying again after: %s\n", who, note)
		}
	case deep.StepWriting:
		v.phase = "writing the answer"
		if !tty {
			fmt.Fprintln(w, "rag: deep: writing the answer")
		}
	case deep.StepDone:
		v.phase = "done"
	}
	if tty {
		v.redraw()
	}
}

var stateMark = map[deep.State]string{
	deep.Queued: "·", deep.Retrieving: "…", deep.Answering: "…", deep.Verifying: "…",
	deep.Verified: "\x1b[32m✓\x1b[0m", deep.Unverified: "\x1b[33m?\x1b[0m", deep.Failed: "\x1b[31m✗\x1b[0m",
}

func (v *deepView) redraw() {
	width := max(20, v.a.s.Width) - 1
	fit := func(s string) string { return runewidth.Truncate(s, width, "…") }
	lines := []string{fit(fmt.Sprintf("deep: %s", v.phase))}
	for i, q := range v.plan {
		line := fmt.Sprintf("  %d. [%s] %s", i+1, v.states[i], q)
		if v.notes[i] != "" {
			line += " — " + v.notes[i]
		}
		line = fit(line)
		lines = append(lines, strings.Replace(line, "["+string(v.states[i])+"]", stateMark[v.states[i]]+" "+string(v.states[i]), 1))
	}
	var b strings.Builder
	if v.drawn > 1 {
		fmt.Fprintf(&b, "\x1b[%dA", v.drawn-1)
	}
	b.WriteString("\r\x1b[J")
	b.WriteString(strings.Join(lines, "\n"))
	fmt.Fprint(v.a.s.Err, b.String())
	v.drawn = len(lines)
}

// finish ends the block with a newline, leaving it on screen above the answer.
func (v *deepView) finish() {
	if v.on && v.a.s.ErrTTY && v.drawn > 0 {
		fmt.Fprintln(v.a.s.Err)
		v.drawn = 0
	}
}
