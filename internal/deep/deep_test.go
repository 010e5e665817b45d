package deep_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/ragcli/rag/internal/deep"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/ollama"
	"github.com/ragcli/rag/internal/ollamatest"
	"github.com/ragcli/rag/internal/retrieve"
	"github.com/ragcli/rag/internal/retry"
)

// The scripted question: three parts, each with its own document, and one
// document (shared.md) that Alpha and Beta both cite.
const question = "Compare how Alpha and Beta retry, and what the runbook recommends"

var plan3 = `{"questions": ["How does Alpha retry?", "How does Beta retry?", "What does the runbook recommend?"]}`

// docs maps a word of a sub-question to the passages retrieval finds for it.
var docs = map[string][]retrieve.Result{
	"Alpha":   {res(1, "alpha.md", "Alpha retries three times."), res(9, "shared.md", "Both use exponential backoff.")},
	"Beta":    {res(2, "beta.md", "Beta retries twice."), res(9, "shared.md", "Both use exponential backoff.")},
	"runbook": {res(3, "runbook.md", "The runbook recommends Alpha's policy.")},
}

func res(id uint64, path, text string) retrieve.Result {
	return retrieve.Result{Chunk: index.Chunk{ID: id, Path: path, StartLine: 1, EndLine: 3, Text: text}, Score: 1}
}

// answers are the workers' scripted answers, by the same word.
var answers = map[string]string{
	"Alpha":   "Alpha retries three times [1] with backoff [2].",
	"Beta":    "Beta retries twice [1] with backoff [2].",
	"runbook": "The runbook recommends Alpha's policy [1].",
}

func topic(text string) string {
	for _, w := range []string{"Alpha", "Beta", "runbook"} {
		if strings.Contains(text, w) {
			return w
		}
	}
	return ""
}

// kind tells the orchestrator's and workers' calls apart.
func kind(req api.ChatRequest) string {
	switch {
	case strings.Contains(string(req.Format), `"questions"`):
		return "plan"
	case strings.Contains(string(req.Format), `"supported"`):
		return "check"
	case strings.HasPrefix(req.Messages[0].Content, "You write the final answer"):
		return "final"
	}
	return "answer"
}

// question returns the sub-question of a worker's or checker's request.
func subQuestion(req api.ChatRequest) string {
	u := req.Messages[len(req.Messages)-1].Content
	i := strings.LastIndex(u, "Question: ")
	q := u[i+len("Question: "):]
	if j := strings.Index(q, "\n"); j >= 0 {
		q = q[:j]
	}
	return q
}

// model is a scripted chat model: each kind of call has a default that makes
// a normal run, and tests override what they need.
type model struct {
	mu     sync.Mutex
	plan   string
	answer func(req api.ChatRequest, n int) ollamatest.ChatOutcome // n: this sub-question's answer calls so far
	check  func(req api.ChatRequest, n int) ollamatest.ChatOutcome
	final  func(req api.ChatRequest) ollamatest.ChatOutcome
	counts map[string]int // kind+sub-question -> calls
	reqs   []api.ChatRequest
}

func (m *model) hook(req api.ChatRequest) ollamatest.ChatOutcome {
	k := kind(req)
	m.mu.Lock()
	key := k + ":" + topic(subQuestion(req))
	if k == "plan" || k == "final" {
		key = k
	}
	m.counts[key]++
	n := m.counts[key]
	m.reqs = append(m.reqs, req)
	m.mu.Unlock()
	switch k {
	case "plan":
		return ollamatest.ChatOutcome{Reply: m.plan}
	case "check":
		if m.check != nil {
			return m.check(req, n)
		}
		return ollamatest.ChatOutcome{Reply: `{"supported": true, "critique": ""}`}
	case "final":
		if m.final != nil {
			return m.final(req)
		}
		return ollamatest.ChatOutcome{Reply: "Alpha retries three times [1] and Beta twice [3], both with backoff [2]; the runbook recommends Alpha's [4]."}
	}
	if m.answer != nil {
		return m.answer(req, n)
	}
	return ollamatest.ChatOutcome{Reply: answers[topic(subQuestion(req))]}
}

func (m *model) calls(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counts[key]
}

type setup struct {
	srv   *ollamatest.Server
	model *model
	opts  deep.Options
	mu    sync.Mutex
	evs   []deep.Event
}

func newSetup(t testing.TB) *setup {
	t.Helper()
	srv := ollamatest.New(t, ollamatest.Model{Name: "llama3.2", ContextLength: 8192})
	c, err := ollama.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c.Timing.Retry = retry.Policy{Budget: -1} // the adapter's retries off: these tests are of deep's
	s := &setup{srv: srv, model: &model{plan: plan3, counts: map[string]int{}}}
	srv.SetChatHook(s.model.hook)
	var inEvent atomic.Bool
	s.opts = deep.Options{
		Client: c, Model: "llama3.2", ContextLength: 8192,
		WorkerTimeout: 10 * time.Second, Backoff: 10 * time.Millisecond,
		Retrieve: func(ctx context.Context, q string) (*retrieve.Outcome, error) {
			return &retrieve.Outcome{Results: slices.Clone(docs[topic(q)])}, nil
		},
		OnEvent: func(e deep.Event) {
			if !inEvent.CompareAndSwap(false, true) {
				t.Error("OnEvent called while another call runs")
			}
			defer inEvent.Store(false)
			s.mu.Lock()
			s.evs = append(s.evs, e)
			s.mu.Unlock()
		},
	}
	return s
}

// states lists worker i's states in the order they were reported.
func (s *setup) states(i int) []deep.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []deep.State
	for _, e := range s.evs {
		if e.Step == deep.StepWorker && e.Worker == i {
			out = append(out, e.State)
		}
	}
	return out
}

func (s *setup) retries(i int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.evs {
		if e.Step == deep.StepRetry && e.Worker == i {
			out = append(out, e.Note)
		}
	}
	return out
}

func TestRunAnswersEachPartAndMergesSources(t *testing.T) {
	s := newSetup(t)
	res, err := deep.Run(t.Context(), s.opts, question)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Plan) != 3 || len(res.Parts) != 3 {
		t.Fatalf("plan %q, %d parts; want 3", res.Plan, len(res.Parts))
	}
	for i, p := range res.Parts {
		if p.State != deep.Verified || !p.Verification.Checked || !p.Verification.Supported || p.Attempts != 1 {
			t.Errorf("part %d = %+v, want verified after one attempt", i, p)
		}
		want := []deep.State{deep.Queued, deep.Retrieving, deep.Answering, deep.Verifying, deep.Verified}
		if got := s.states(i); !slices.Equal(got, want) {
			t.Errorf("worker %d states = %v, want %v", i, got, want)
		}
	}
	// One source list: shared.md, cited by Alpha and Beta, gets one number.
	var got []string
	for _, src := range res.Sources {
		got = append(got, fmt.Sprintf("%d:%s:%v", src.N, src.Path, src.Cited))
	}
	want := []string{"1:alpha.md:true", "2:shared.md:true", "3:beta.md:true", "4:runbook.md:true"}
	if !slices.Equal(got, want) {
		t.Errorf("sources = %v, want %v", got, want)
	}
	if a := res.Parts[1].Answer; a != "Beta retries twice [3] with backoff [2]." {
		t.Errorf("Beta's answer renumbered = %q", a)
	}
	if a := res.Parts[2].Answer; a != "The runbook recommends Alpha's policy [4]." {
		t.Errorf("runbook answer renumbered = %q", a)
	}
	// The final call saw the renumbered answers, and nothing else.
	var final api.ChatRequest
	for _, r := range s.model.reqs {
		if kind(r) == "final" {
			final = r
		}
	}
	if u := final.Messages[1].Content; !strings.Contains(u, "Beta retries twice [3] with backoff [2].") || strings.Contains(u, "<source") {
		t.Errorf("final prompt = %q, want the renumbered part answers and no sources", u)
	}
	if !strings.HasPrefix(res.Answer, "Alpha retries three times [1]") || strings.Contains(res.Answer, "Could not be answered") {
		t.Errorf("answer = %q", res.Answer)
	}
	// 1 plan + 3 answers + 3 checks + 1 final.
	if res.Calls != 8 || s.srv.Chats() != 8 {
		t.Errorf("calls = %d (server saw %d), want 8", res.Calls, s.srv.Chats())
	}
}

func TestPlanNotUsableIsPlanError(t *testing.T) {
	for _, tc := range []struct{ name, plan, reason string }{
		{"not json", "Sure! Here are the sub-questions: 1. Alpha 2. Beta", "not valid JSON"},
		{"empty list", `{"questions": []}`, "no sub-questions"},
		{"blank questions", `{"questions": ["  ", ""]}`, "no sub-questions"},
		{"wrong shape", `{"steps": ["a"]}`, "no sub-questions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSetup(t)
			s.model.plan = tc.plan
			_, err := deep.Run(t.Context(), s.opts, question)
			pe, ok := errors.AsType[*deep.PlanError](err)
			if !ok || !strings.Contains(pe.Reason, tc.reason) || pe.Reply != tc.plan {
				t.Fatalf("err = %v, want a PlanError saying %q", err, tc.reason)
			}
			if n := s.srv.Chats(); n != 1 {
				t.Errorf("%d chat calls, want only the plan", n)
			}
		})
	}
}

// TestPlanCutAtOutputLimit: a model that stops at its num_predict leaves its
// structured plan unfinished (the real tiny model does, after 48 tokens);
// the plan error says so rather than calling the reply malformed.
func TestPlanCutAtOutputLimit(t *testing.T) {
	srv := ollamatest.New(t, ollamatest.Model{Name: "llama3.2", ContextLength: 8192, NumPredict: 6})
	srv.SetChatReply(func(api.ChatRequest) string {
		return `{"questions": ["What is alpha and where is it configured?", "Beta?"]}`
	})
	c, err := ollama.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	opts := newSetup(t).opts
	opts.Client = c
	_, err = deep.Run(t.Context(), opts, question)
	pe, ok := errors.AsType[*deep.PlanError](err)
	if !ok || !strings.Contains(pe.Reason, "cut at the model's output limit after 6 tokens") {
		t.Fatalf("err = %v, want a PlanError saying the plan was cut at 6 tokens", err)
	}
}

func TestPlanKeepsAtMostMaxAgents(t *testing.T) {
	s := newSetup(t)
	s.opts.MaxAgents = 2
	res, err := deep.Run(t.Context(), s.opts, question)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Parts) != 2 {
		t.Errorf("%d parts, want MaxAgents=2", len(res.Parts))
	}
	if f := s.model.reqs[0].Format; !strings.Contains(string(f), `"maxItems":2`) {
		t.Errorf("plan schema %s does not ask for at most 2", f)
	}
}

func TestWorkerTimeoutFailsOnlyItsPart(t *testing.T) {
	s := newSetup(t)
	s.opts.WorkerTimeout = 300 * time.Millisecond
	s.model.answer = func(req api.ChatRequest, n int) ollamatest.ChatOutcome {
		q := subQuestion(req)
		if topic(q) == "Beta" {
			return ollamatest.ChatOutcome{Reply: "too late", Delay: time.Minute}
		}
		return ollamatest.ChatOutcome{Reply: answers[topic(q)]}
	}
	res, err := deep.Run(t.Context(), s.opts, question)
	if err != nil {
		t.Fatal(err)
	}
	beta := res.Parts[1]
	if beta.State != deep.Failed || beta.Error != "no answer within 300ms" || beta.Answer != "" || beta.Attempts != 2 {
		t.Errorf("Beta = %+v, want failed after 2 attempts with the deadline as reason", beta)
	}
	if r := s.retries(1); len(r) != 1 || r[0] != "no answer within 300ms" {
		t.Errorf("Beta's retries = %q, want one after the timeout", r)
	}
	if res.Parts[0].State != deep.Verified || res.Parts[2].State != deep.Verified {
		t.Errorf("the other parts: %s, %s; want verified", res.Parts[0].State, res.Parts[2].State)
	}
	if res.Failed() != 1 {
		t.Errorf("Failed() = %d", res.Failed())
	}
	if !strings.Contains(res.Answer, "**Could not be answered:**\n\n- How does Beta retry? (no answer within 300ms)") {
		t.Errorf("answer does not name the failed part: %q", res.Answer)
	}
	// The failed part reached the final call as a failure, not as empty text.
	for _, r := range s.model.reqs {
		if kind(r) == "final" && !strings.Contains(r.Messages[1].Content, `status="failed">`+"\nThis part could not be answered: no answer within 300ms") {
			t.Errorf("final prompt = %q", r.Messages[1].Content)
		}
	}
	// Beta's sources are not in the merged list.
	for _, src := range res.Sources {
		if src.Path == "beta.md" {
			t.Errorf("the failed part's source %s is listed", src.Path)
		}
	}
}

func TestServerErrorRetriedOnceThenFails(t *testing.T) {
	s := newSetup(t)
	s.model.answer = func(req api.ChatRequest, n int) ollamatest.ChatOutcome {
		q := subQuestion(req)
		if topic(q) == "Alpha" {
			return ollamatest.ChatOutcome{Status: 500, Body: `{"error":"llama runner process has terminated"}`}
		}
		return ollamatest.ChatOutcome{Reply: answers[topic(q)]}
	}
	res, err := deep.Run(t.Context(), s.opts, question)
	if err != nil {
		t.Fatal(err)
	}
	a := res.Parts[0]
	if a.State != deep.Failed || !strings.Contains(a.Error, "answered 500: llama runner process has terminated") || a.Attempts != 2 {
		t.Errorf("Alpha = %+v, want failed with the 500 after 2 attempts", a)
	}
	if n := s.model.calls("answer:Alpha"); n != 2 {
		t.Errorf("Alpha's answer calls = %d, want 2", n)
	}
	if !strings.Contains(res.Answer, "How does Alpha retry? (ollama at") {
		t.Errorf("answer = %q", res.Answer)
	}
}

func TestServerErrorOnceRecovers(t *testing.T) {
	s := newSetup(t)
	s.model.answer = func(req api.ChatRequest, n int) ollamatest.ChatOutcome {
		q := subQuestion(req)
		if topic(q) == "Alpha" && n == 1 {
			return ollamatest.ChatOutcome{Status: 503, Body: `{"error":"server busy, please try again.  maximum pending requests exceeded"}`}
		}
		return ollamatest.ChatOutcome{Reply: answers[topic(q)]}
	}
	res, err := deep.Run(t.Context(), s.opts, question)
	if err != nil {
		t.Fatal(err)
	}
	if a := res.Parts[0]; a.State != deep.Verified || a.Attempts != 2 {
		t.Errorf("Alpha = %+v, want verified on the second attempt", a)
	}
}

func TestClientErrorNotRetried(t *testing.T) {
	s := newSetup(t)
	s.model.answer = func(req api.ChatRequest, n int) ollamatest.ChatOutcome {
		q := subQuestion(req)
		if topic(q) == "runbook" {
			return ollamatest.ChatOutcome{Status: 400, Body: `{"error":"invalid options"}`}
		}
		return ollamatest.ChatOutcome{Reply: answers[topic(q)]}
	}
	res, err := deep.Run(t.Context(), s.opts, question)
	if err != nil {
		t.Fatal(err)
	}
	if p := res.Parts[2]; p.State != deep.Failed || p.Attempts != 1 || !strings.Contains(p.Error, "answered 400") {
		t.Errorf("runbook part = %+v, want failed after one attempt", p)
	}
	if r := s.retries(2); len(r) != 0 {
		t.Errorf("retries after a 400: %q", r)
	}
}

func TestRetrieveErrorFailsPart(t *testing.T) {
	s := newSetup(t)
	inner := s.opts.Retrieve
	s.opts.Retrieve = func(ctx context.Context, q string) (*retrieve.Outcome, error) {
		if topic(q) == "runbook" {
			return &retrieve.Outcome{}, nil // nothing indexed matches
		}
		return inner(ctx, q)
	}
	res, err := deep.Run(t.Context(), s.opts, question)
	if err != nil {
		t.Fatal(err)
	}
	if p := res.Parts[2]; p.State != deep.Failed || p.Error != "no indexed text matches the question" || p.Attempts != 0 {
		t.Errorf("runbook part = %+v", p)
	}
}

func TestUnsupportedAnswerRewrittenWithCritiqueThenUnverified(t *testing.T) {
	s := newSetup(t)
	const critique = "the sources do not say Alpha retries three times"
	s.model.check = func(req api.ChatRequest, n int) ollamatest.ChatOutcome {
		if topic(subQuestion(req)) == "Alpha" {
			return ollamatest.ChatOutcome{Reply: `{"supported": false, "critique": "` + critique + `"}`}
		}
		return ollamatest.ChatOutcome{Reply: `{"supported": true, "critique": ""}`}
	}
	res, err := deep.Run(t.Context(), s.opts, question)
	if err != nil {
		t.Fatal(err)
	}
	a := res.Parts[0]
	want := deep.Verification{Checked: true, Supported: false, Critique: critique, Checks: 2}
	if a.State != deep.Unverified || a.Verification != want || a.Attempts != 2 || a.Answer == "" {
		t.Errorf("Alpha = %+v, want unverified after a rewrite, %+v", a, want)
	}
	// The rewrite carried the critique.
	var rewrites int
	for _, r := range s.model.reqs {
		if kind(r) == "answer" && topic(subQuestion(r)) == "Alpha" && strings.Contains(r.Messages[1].Content, "A reviewer checked your previous answer") &&
			strings.Contains(r.Messages[1].Content, critique) {
			rewrites++
		}
	}
	if rewrites != 1 {
		t.Errorf("%d rewrite requests carried the critique, want 1", rewrites)
	}
	if !strings.Contains(res.Answer, "**Not verified against the cited sources:**\n\n- How does Alpha retry? ("+critique+")") {
		t.Errorf("answer does not flag the unverified part: %q", res.Answer)
	}
	if got := s.states(0); got[len(got)-1] != deep.Unverified {
		t.Errorf("Alpha's last state = %s", got[len(got)-1])
	}
}

func TestUnsupportedAnswerRewrittenThenVerified(t *testing.T) {
	s := newSetup(t)
	s.model.check = func(req api.ChatRequest, n int) ollamatest.ChatOutcome {
		if topic(subQuestion(req)) == "Beta" && n == 1 {
			return ollamatest.ChatOutcome{Reply: `{"supported": false, "critique": "cite the backoff"}`}
		}
		return ollamatest.ChatOutcome{Reply: `{"supported": true, "critique": ""}`}
	}
	res, err := deep.Run(t.Context(), s.opts, question)
	if err != nil {
		t.Fatal(err)
	}
	if b := res.Parts[1]; b.State != deep.Verified || b.Verification.Checks != 2 || b.Attempts != 2 {
		t.Errorf("Beta = %+v, want verified after the rewrite", b)
	}
}

func TestCheckerNotJSONLeavesAnswerUnverified(t *testing.T) {
	s := newSetup(t)
	s.model.check = func(api.ChatRequest, int) ollamatest.ChatOutcome {
		return ollamatest.ChatOutcome{Reply: "Looks good to me!"}
	}
	res, err := deep.Run(t.Context(), s.opts, question)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Parts {
		if p.State != deep.Unverified || p.Verification.Checked || !strings.Contains(p.Verification.Critique, "not valid JSON") || p.Answer == "" {
			t.Errorf("part = %+v, want unverified, unchecked, its answer kept", p)
		}
	}
}

func TestFinalCallFailingJoinsParts(t *testing.T) {
	s := newSetup(t)
	s.model.final = func(api.ChatRequest) ollamatest.ChatOutcome {
		return ollamatest.ChatOutcome{Status: 500, Body: `{"error":"out of memory"}`}
	}
	res, err := deep.Run(t.Context(), s.opts, question)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.FinalError, "answered 500") || !strings.Contains(res.Answer, "### How does Beta retry?\n\nBeta retries twice [3] with backoff [2].") {
		t.Errorf("FinalError %q, answer %q", res.FinalError, res.Answer)
	}
	if s.model.calls("final") != 2 {
		t.Errorf("final calls = %d, want 2 (one retry)", s.model.calls("final"))
	}
}

func TestAllWorkersFailing(t *testing.T) {
	s := newSetup(t)
	s.model.answer = func(api.ChatRequest, int) ollamatest.ChatOutcome {
		return ollamatest.ChatOutcome{Status: 500, Body: `{"error":"llama runner process has terminated"}`}
	}
	res, err := deep.Run(t.Context(), s.opts, question)
	afe, ok := errors.AsType[*deep.AllFailedError](err)
	if !ok || len(afe.Parts) != 3 {
		t.Fatalf("err = %v, want an AllFailedError with 3 parts", err)
	}
	if !strings.HasPrefix(err.Error(), "none of the 3 parts of the question could be answered; the first: ollama at ") {
		t.Errorf("message = %q", err)
	}
	if res == nil || res.Failed() != 3 {
		t.Errorf("result = %+v, want the 3 failed parts", res)
	}
	if s.model.calls("final") != 0 {
		t.Error("the final answer was asked for with nothing to write it from")
	}
}

func TestCancelStopsEveryWorker(t *testing.T) {
	s := newSetup(t)
	s.model.answer = func(api.ChatRequest, int) ollamatest.ChatOutcome {
		return ollamatest.ChatOutcome{Reply: "never", Delay: time.Minute}
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	answering := map[int]bool{}
	onEvent := s.opts.OnEvent
	s.opts.OnEvent = func(e deep.Event) {
		onEvent(e)
		if e.Step == deep.StepWorker && e.State == deep.Answering {
			answering[e.Worker] = true
			if len(answering) == 3 {
				// Every worker is waiting on the model: once the server has
				// all their requests, the user presses Ctrl-C.
				go func() {
					for deadline := time.Now().Add(10 * time.Second); s.srv.Chats() < 4 && time.Now().Before(deadline); {
						time.Sleep(5 * time.Millisecond)
					}
					cancel()
				}()
			}
		}
	}
	done := make(chan struct{})
	var err error
	var res *deep.Result
	go func() { res, err = deep.Run(ctx, s.opts, question); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	if !errors.Is(err, context.Canceled) || res != nil {
		t.Fatalf("Run = %v, %v; want context.Canceled and no result", res, err)
	}
	if _, ok := errors.AsType[*deep.AllFailedError](err); ok {
		t.Error("a cancellation reported as every worker failing")
	}
	if n := s.srv.Chats(); n != 4 {
		t.Errorf("%d chat calls, want 4: the plan and one per worker, no retries", n)
	}
}

func TestParallelBoundsWorkersAtWork(t *testing.T) {
	s := newSetup(t)
	s.opts.Parallel = 2
	s.model.plan = `{"questions": ["Alpha one?", "Alpha two?", "Beta one?", "Beta two?"]}`
	var now, peak atomic.Int32
	two := make(chan struct{})
	var once sync.Once
	s.model.answer = func(req api.ChatRequest, n int) ollamatest.ChatOutcome {
		c := now.Add(1)
		defer now.Add(-1)
		for {
			p := peak.Load()
			if c <= p || peak.CompareAndSwap(p, c) {
				break
			}
		}
		if c == 2 {
			once.Do(func() { close(two) })
		}
		// Hold each answer until two are at work at once (or give up): a
		// third would show up meanwhile if Parallel were not enforced.
		select {
		case <-two:
			time.Sleep(20 * time.Millisecond)
		case <-time.After(5 * time.Second):
		}
		return ollamatest.ChatOutcome{Reply: answers[topic(subQuestion(req))]}
	}
	s.opts.MaxAgents = 4
	res, err := deep.Run(t.Context(), s.opts, question)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Parts) != 4 {
		t.Fatalf("%d parts", len(res.Parts))
	}
	if p := peak.Load(); p != 2 {
		t.Errorf("%d answers at once at most, want exactly Parallel=2", p)
	}
}

// TestOneNumCtxPerRun: every call of a run (plan, answers, checks, final)
// asks for the same num_ctx, whatever each prompt's size, so the server does
// not reload the model between them.
func TestOneNumCtxPerRun(t *testing.T) {
	s := newSetup(t)
	long := strings.Repeat("Alpha retries with a long explanation of backoff. ", 60)
	s.opts.Retrieve = func(ctx context.Context, q string) (*retrieve.Outcome, error) {
		out := slices.Clone(docs[topic(q)])
		if topic(q) == "Alpha" {
			out = append(out, res(20, "long.md", long))
		}
		return &retrieve.Outcome{Results: out}, nil
	}
	s.opts.PassageTokens = 5 * 256
	if _, err := deep.Run(t.Context(), s.opts, question); err != nil {
		t.Fatal(err)
	}
	s.model.mu.Lock()
	defer s.model.mu.Unlock()
	seen := map[any]int{}
	for _, r := range s.model.reqs {
		seen[r.Options["num_ctx"]]++
	}
	if len(seen) != 1 || len(s.model.reqs) < 8 {
		t.Errorf("num_ctx of the run's %d calls: %v; want one size", len(s.model.reqs), seen)
	}
}

// TestRerankSkippedReported: a part whose retrieval kept the fused order
// because the reranker failed still answers from those passages, and the
// run reports the reranker's failure upward (once, the first) for the
// caller's warning and partial exit; a run whose retrievals all reranked
// reports none.
func TestRerankSkippedReported(t *testing.T) {
	s := newSetup(t)
	res, err := deep.Run(t.Context(), s.opts, question)
	if err != nil {
		t.Fatal(err)
	}
	if res.RerankSkipped != nil {
		t.Errorf("RerankSkipped = %v with no reranker failing", res.RerankSkipped)
	}

	s = newSetup(t)
	down := errors.New("cannot reach the reranker at http://127.0.0.1:9/v1/rerank")
	inner := s.opts.Retrieve
	s.opts.Retrieve = func(ctx context.Context, q string) (*retrieve.Outcome, error) {
		out, err := inner(ctx, q)
		if err == nil && topic(q) == "Beta" {
			out.RerankSkipped = down
		}
		return out, err
	}
	res, err = deep.Run(t.Context(), s.opts, question)
	if err != nil {
		t.Fatal(err)
	}
	if res.RerankSkipped != down {
		t.Errorf("RerankSkipped = %v, want %v", res.RerankSkipped, down)
	}
	if n := res.Failed(); n != 0 {
		t.Errorf("%d parts failed; a skipped rerank must not fail a part", n)
	}
}
