// Package deep answers a question that one retrieval cannot: an orchestrator
// asks the chat model for a plan of sub-questions, runs one worker per
// sub-question in parallel — each retrieving its own passages and answering in
// its own context with citations, through package answer — has a checker
// verify each worker's answer against the sources it cites, and writes the
// final answer from the workers' answers alone, their citations renumbered
// into one source list.
//
// Every failure is contained: each model call of a worker has a deadline and
// is tried once more after a transient error; a worker that still fails is
// reported as the part that could not be answered, never as empty text; an
// answer that fails its check is rewritten once with the critique, then
// marked unverified. Only when every worker fails does Run fail.
//
// The package does not retrieve (the caller passes Retrieve), print or read
// flags; it reports progress through Options.OnEvent.
package deep

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ragcli/rag/internal/answer"
	"github.com/ragcli/rag/internal/llm"
	"github.com/ragcli/rag/internal/retrieve"
)

// Defaults for Options left zero.
const (
	DefaultMaxAgents = 4
	DefaultParallel  = 4
	// DefaultWorkerTimeout bounds one attempt of one model call. It matches
	// the ollama package's wait for a first byte: a model load on a slow
	// machine takes minutes.
	DefaultWorkerTimeout = 5 * time.Minute
	// DefaultBackoff is the wait before the one retry of a transient failure;
	// the actual wait is up to half as long again, so that workers failing
	// together do not retry together.
	DefaultBackoff = time.Second
)

// Reply budgets, in tokens, of the orchestrator's own calls.
const (
	planTokens  = 512
	checkTokens = 256
	finalTokens = 2048
)

// Options configure a run.
type Options struct {
	Client llm.Client
	Model  string
	// ContextLength is the largest context window the run may ask for (see
	// answer.Limit), 0 when unknown: each worker drops its lowest-ranked
	// passages to fit the run's window.
	ContextLength int
	// PassageTokens bounds the tokens of the passages one retrieval returns
	// (k times the index's chunk size), for sizing the run's one window; 0
	// when unknown.
	PassageTokens int
	MaxAgents     int // most sub-questions, hence workers; 0 means DefaultMaxAgents
	Parallel      int // most workers at work at once; 0 means DefaultParallel
	// WorkerTimeout is the deadline of each attempt of each model call (plan,
	// retrieve and answer, check, final answer); 0 means DefaultWorkerTimeout.
	WorkerTimeout time.Duration
	Backoff       time.Duration // 0 means DefaultBackoff
	// Retrieve returns the passages for a sub-question (a session's search).
	// It is called from several workers at once and must be safe for that.
	// An outcome's RerankSkipped is reported in Result.RerankSkipped.
	Retrieve func(ctx context.Context, query string) (*retrieve.Outcome, error)
	// OnEvent, when set, hears of progress. Calls never overlap, and it must
	// return quickly: workers wait for it.
	OnEvent func(Event)
}

// State is where a worker stands.
type State string

// A worker's states, in order; Verified, Unverified and Failed are final.
const (
	Queued     State = "queued"
	Retrieving State = "retrieving"
	Answering  State = "answering"
	Verifying  State = "verifying"
	Verified   State = "verified"
	Unverified State = "unverified"
	Failed     State = "failed"
)

// Step is what an Event is about.
type Step string

// The steps of a run.
const (
	StepPlanning Step = "planning" // the plan was asked for
	StepPlanned  Step = "planned"  // Plan holds it
	StepWorker   Step = "worker"   // worker Worker is now in State
	StepRetry    Step = "retry"    // worker Worker (-1: the orchestrator) tries again; Note says why
	StepWriting  Step = "writing"  // the final answer was asked for
	StepDone     Step = "done"
)

// Event reports progress to Options.OnEvent.
type Event struct {
	Step   Step
	Plan   []string // with StepPlanned
	Worker int      // index into Plan, with StepWorker and StepRetry
	State  State    // with StepWorker
	// Note says why: the failure with Failed and StepRetry, the critique
	// with Unverified or when a worker answers again after a failed check.
	Note string
}

// Verification is what the checker said about a part's answer.
type Verification struct {
	// Checked is false when no check could be made (the checker failed);
	// Supported is then false too.
	Checked   bool
	Supported bool
	Critique  string // why the answer is not supported, or why it was not checked
	Checks    int    // check calls made: 1, or 2 after a rewrite
}

// Part is one sub-question and what its worker made of it.
type Part struct {
	Question string
	State    State // Verified, Unverified or Failed
	// Answer is the worker's answer, its citations renumbered into
	// Result.Sources; empty only when State is Failed.
	Answer       string
	Sources      []answer.Source // the merged sources Answer cites
	Verification Verification
	Error        string        // why the part failed, with Failed
	Attempts     int           // answer calls made
	Elapsed      time.Duration // the worker's own time, waiting for a slot excluded
}

// Result is a finished deep answer.
type Result struct {
	Question string
	Plan     []string
	Parts    []Part // in plan order
	// Answer is the final answer, ending with a note on each part that could
	// not be answered or verified.
	Answer string
	// Sources are every source a part cites, numbered as Answer and the parts'
	// answers cite them; Cited marks those Answer cites.
	Sources []answer.Source
	// FinalError is why the final answer could not be written by the model;
	// Answer then holds the parts' answers one after the other.
	FinalError string
	// RerankSkipped is the first reason a part's retrieval kept the fused
	// order because the reranker failed (down, slow, a bad answer, a
	// rejected key); nil when every retrieval was reranked or none asked to
	// be. The answer stands; the caller warns.
	RerankSkipped error
	Calls         int           // model calls made in all
	Elapsed       time.Duration // the whole run
	Work          time.Duration // the sum of the parts' Elapsed
}

// Failed counts the parts that could not be answered.
func (r *Result) Failed() int {
	n := 0
	for _, p := range r.Parts {
		if p.State == Failed {
			n++
		}
	}
	return n
}

// Run answers question with a team of workers. It returns a *PlanError when
// the model's plan is unusable (the caller should answer the plain way), an
// *AllFailedError with the failed parts when no worker could answer, and the
// context's error when ctx is done.
func Run(ctx context.Context, opts Options, question string) (*Result, error) {
	if opts.Client == nil || opts.Retrieve == nil {
		return nil, errors.New("deep: Options.Client and Options.Retrieve are required")
	}
	if opts.MaxAgents <= 0 {
		opts.MaxAgents = DefaultMaxAgents
	}
	if opts.Parallel <= 0 {
		opts.Parallel = DefaultParallel
	}
	if opts.WorkerTimeout <= 0 {
		opts.WorkerTimeout = DefaultWorkerTimeout
	}
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultBackoff
	}
	r := &run{opts: opts, numCtx: window(question, opts)}
	start := time.Now()
	res := &Result{Question: question}
	defer func() { res.Calls, res.Elapsed = int(r.calls.Load()), time.Since(start) }()

	r.emit(Event{Step: StepPlanning})
	plan, err := r.plan(ctx, question)
	if err != nil {
		return nil, err
	}
	res.Plan = plan
	r.emit(Event{Step: StepPlanned, Plan: plan})

	res.Parts = r.fanOut(ctx, plan)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.RerankSkipped = r.rerank.first()
	var mg merger
	answered := 0
	for i := range res.Parts {
		p := &res.Parts[i]
		res.Work += p.Elapsed
		if p.State != Failed {
			answered++
			p.Answer, p.Sources = mg.add(p.Answer, p.Sources)
		}
	}
	if answered == 0 {
		return res, &AllFailedError{Parts: res.Parts}
	}
	res.Sources = mg.sources

	r.emit(Event{Step: StepWriting})
	text, err := r.final(ctx, question, res.Parts)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		res.FinalError = err.Error()
		text = joinParts(res.Parts)
	}
	markCited(text, res.Sources)
	res.Answer = text + notes(res.Parts)
	r.emit(Event{Step: StepDone})
	return res, nil
}

type run struct {
	opts    Options
	numCtx  int // every call's context window
	calls   atomic.Int64
	eventMu sync.Mutex
	rerank  firstErr // the first retrieval whose reranker failed
}

// firstErr keeps the first error noted from several goroutines.
type firstErr struct {
	mu  sync.Mutex
	err error
}

func (f *firstErr) note(err error) {
	if err == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
	}
}

func (f *firstErr) first() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

func (r *run) emit(e Event) {
	if r.opts.OnEvent == nil {
		return
	}
	r.eventMu.Lock()
	defer r.eventMu.Unlock()
	r.opts.OnEvent(e)
}

// chat makes one model call and counts it.
func (r *run) chat(ctx context.Context, req llm.Request) (string, error) {
	resp, err := r.chatResponse(ctx, req)
	return resp.Content, err
}

func (r *run) chatResponse(ctx context.Context, req llm.Request) (llm.Response, error) {
	r.calls.Add(1)
	req.Model = r.opts.Model
	return r.opts.Client.Chat(ctx, req, nil)
}

// cutReason names why a structured reply could not be read when the model
// stopped at its output limit: the JSON is unfinished, not malformed.
func cutReason(what string, resp llm.Response, err error) error {
	if err == nil || !resp.CutAtLimit {
		return err
	}
	return fmt.Errorf("%s was cut at the model's output limit after %d tokens, before its JSON ended", what, resp.OutputTokens)
}

var errDeadline = errors.New("deep: step deadline")

// try runs step with a deadline of its own, and once more after a backoff when
// it fails for a transient reason, unless ctx itself is done. worker is the
// worker's index for the retry event, -1 for the orchestrator.
func (r *run) try(ctx context.Context, worker int, name string, step func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		sctx, cancel := context.WithTimeoutCause(ctx, r.opts.WorkerTimeout, errDeadline)
		err := step(sctx)
		if err != nil && ctx.Err() == nil && errors.Is(context.Cause(sctx), errDeadline) {
			err = &TimeoutError{Step: name, After: r.opts.WorkerTimeout}
		}
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt >= 2 || !Transient(err) {
			return err
		}
		r.emit(Event{Step: StepRetry, Worker: worker, Note: oneLine(err.Error())})
		wait := r.opts.Backoff + rand.N(r.opts.Backoff/2+1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (r *run) plan(ctx context.Context, question string) ([]string, error) {
	msgs := planMessages(question, r.opts.MaxAgents)
	if err := answer.Fit(msgs, planTokens, r.numCtx); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	zero := 0.0
	var resp llm.Response
	err := r.try(ctx, -1, "plan", func(ctx context.Context) error {
		var err error
		resp, err = r.chatResponse(ctx, llm.Request{Messages: msgs, NumCtx: r.numCtx, Format: planSchema(r.opts.MaxAgents), Temperature: &zero})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	plan, err := ParsePlan(resp.Content, r.opts.MaxAgents)
	if err = cutReason("the plan", resp, err); err != nil {
		return nil, &PlanError{Reason: err.Error(), Reply: resp.Content}
	}
	return plan, nil
}

// fanOut runs one worker per sub-question, at most Parallel at once, and
// waits for all of them.
func (r *run) fanOut(ctx context.Context, plan []string) []Part {
	parts := make([]Part, len(plan))
	for i := range plan {
		r.emit(Event{Step: StepWorker, Worker: i, State: Queued})
	}
	slots := make(chan struct{}, r.opts.Parallel)
	var wg sync.WaitGroup
	for i, q := range plan {
		wg.Go(func() {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				parts[i] = Part{Question: q, State: Failed, Error: ctx.Err().Error()}
				return
			}
			defer func() { <-slots }()
			start := time.Now()
			parts[i] = r.work(ctx, i, q)
			parts[i].Elapsed = time.Since(start)
			note := parts[i].Error
			if parts[i].State == Unverified {
				note = parts[i].Verification.Critique
			}
			r.emit(Event{Step: StepWorker, Worker: i, State: parts[i].State, Note: oneLine(note)})
		})
	}
	wg.Wait()
	return parts
}

// work is one worker: retrieve, answer, check, and answer once more with the
// critique if the check fails.
func (r *run) work(ctx context.Context, i int, q string) Part {
	p := Part{Question: q}
	fail := func(err error) Part {
		p.State, p.Answer, p.Sources = Failed, "", nil
		p.Error = oneLine(err.Error())
		return p
	}
	var results []retrieve.Result
	answerOnce := func(question string) (*answer.Answer, error) {
		var ans *answer.Answer
		err := r.try(ctx, i, "answer", func(ctx context.Context) error {
			if results == nil {
				r.emit(Event{Step: StepWorker, Worker: i, State: Retrieving})
				out, err := r.opts.Retrieve(ctx, q)
				if err != nil {
					return fmt.Errorf("retrieve: %w", err)
				}
				r.rerank.note(out.RerankSkipped)
				if len(out.Results) == 0 {
					return answer.ErrNoSources
				}
				results = out.Results
			}
			r.emit(Event{Step: StepWorker, Worker: i, State: Answering})
			p.Attempts++
			r.calls.Add(1)
			a, err := answer.Ask(ctx, r.opts.Client, question, results, answer.Options{Model: r.opts.Model, NumCtx: r.numCtx, ContextLength: r.numCtx}, nil)
			if err != nil {
				return err
			}
			if strings.TrimSpace(a.Text) == "" {
				return errEmptyAnswer
			}
			ans = a
			return nil
		})
		return ans, err
	}

	ans, err := answerOnce(q)
	if err != nil {
		return fail(err)
	}
	p.Answer, p.Sources = ans.Text, ans.Sources
	v, err := r.check(ctx, i, q, ans)
	if err != nil {
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
		p.State = Unverified
		p.Verification = Verification{Critique: "could not be checked: " + oneLine(err.Error()), Checks: 1}
		return p
	}
	p.Verification = Verification{Checked: true, Supported: v.Supported, Critique: v.Critique, Checks: 1}
	if v.Supported {
		p.State = Verified
		return p
	}
	// One rewrite with the critique, then one more check.
	r.emit(Event{Step: StepWorker, Worker: i, State: Answering, Note: oneLine(v.Critique)})
	again, err := answerOnce(critiqued(q, v.Critique))
	if err != nil {
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
		p.State = Unverified // the first answer stands, flagged
		return p
	}
	p.Answer, p.Sources = again.Text, again.Sources
	v2, err := r.check(ctx, i, q, again)
	p.Verification.Checks = 2
	switch {
	case err != nil && ctx.Err() != nil:
		return fail(ctx.Err())
	case err != nil:
		p.State = Unverified
		p.Verification = Verification{Critique: "could not be checked: " + oneLine(err.Error()), Checks: 2}
	case v2.Supported:
		p.State = Verified
		p.Verification = Verification{Checked: true, Supported: true, Checks: 2}
	default:
		p.State = Unverified
		p.Verification = Verification{Checked: true, Critique: v2.Critique, Checks: 2}
	}
	return p
}

var errEmptyAnswer = errors.New("the model answered with empty text")

// check asks the checker whether ans is supported by the sources it cites
// (by every source it was given, when it cites none).
func (r *run) check(ctx context.Context, i int, q string, ans *answer.Answer) (Verdict, error) {
	r.emit(Event{Step: StepWorker, Worker: i, State: Verifying})
	var srcs []answer.Source
	for _, s := range ans.Sources {
		if s.Cited {
			srcs = append(srcs, s)
		}
	}
	if len(srcs) == 0 {
		srcs = ans.Sources
	}
	msgs := checkMessages(q, ans.Text, srcs)
	if err := answer.Fit(msgs, checkTokens, r.numCtx); err != nil {
		return Verdict{}, err
	}
	zero := 0.0
	var v Verdict
	err := r.try(ctx, i, "check", func(ctx context.Context) error {
		resp, err := r.chatResponse(ctx, llm.Request{Messages: msgs, NumCtx: r.numCtx, Format: checkSchema, Temperature: &zero})
		if err != nil {
			return err
		}
		v, err = ParseVerdict(resp.Content)
		return cutReason("the check's reply", resp, err)
	})
	return v, err
}

// final writes the answer from the parts.
func (r *run) final(ctx context.Context, question string, parts []Part) (string, error) {
	msgs := finalMessages(question, parts)
	if err := answer.Fit(msgs, finalTokens, r.numCtx); err != nil {
		return "", err
	}
	var text string
	err := r.try(ctx, -1, "final answer", func(ctx context.Context) error {
		t, err := r.chat(ctx, llm.Request{Messages: msgs, NumCtx: r.numCtx})
		if err != nil {
			return err
		}
		if strings.TrimSpace(t) == "" {
			return errEmptyAnswer
		}
		text = t
		return nil
	})
	return text, err
}

// joinParts is the answer when the final call fails: each part's answer
// under its question.
func joinParts(parts []Part) string {
	var b strings.Builder
	for _, p := range parts {
		if p.State == Failed {
			continue
		}
		fmt.Fprintf(&b, "### %s\n\n%s\n\n", p.Question, strings.TrimSpace(p.Answer))
	}
	return strings.TrimSpace(b.String())
}

// notes lists, after the answer, the parts that could not be answered or
// verified: written here, not left to the model to mention.
func notes(parts []Part) string {
	var failed, unverified []string
	for _, p := range parts {
		switch p.State {
		case Failed:
			failed = append(failed, fmt.Sprintf("- %s (%s)", p.Question, p.Error))
		case Unverified:
			unverified = append(unverified, fmt.Sprintf("- %s (%s)", p.Question, p.Verification.Critique))
		}
	}
	var b strings.Builder
	if len(failed) > 0 {
		b.WriteString("\n\n**Could not be answered:**\n\n" + strings.Join(failed, "\n"))
	}
	if len(unverified) > 0 {
		b.WriteString("\n\n**Not verified against the cited sources:**\n\n" + strings.Join(unverified, "\n"))
	}
	return b.String()
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
