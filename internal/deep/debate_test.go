package deep_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/ragcli/rag/internal/deep"
	"github.com/ragcli/rag/internal/ollama"
	"github.com/ragcli/rag/internal/ollamatest"
	"github.com/ragcli/rag/internal/retrieve"
	"github.com/ragcli/rag/internal/retry"
)

// debateSetup is a debate over the fake server whose lexical agent reads
// alpha.md, the vector agent beta.md and the wide agent runbook.md; reply
// scripts each chat by what its prompt holds.
func debateSetup(t *testing.T, reply func(prompt string, structured bool) ollamatest.ChatOutcome) deep.DebateOptions {
	t.Helper()
	srv := ollamatest.New(t, ollamatest.Model{Name: "llama3.2", ContextLength: 8192})
	srv.SetChatHook(func(req api.ChatRequest) ollamatest.ChatOutcome {
		var b strings.Builder
		for _, m := range req.Messages {
			b.WriteString(m.Content)
		}
		return reply(b.String(), len(req.Format) > 0)
	})
	c, err := ollama.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c.Timing.Retry = retry.Policy{Budget: -1} // the adapter's retries off: these tests are of the debate's
	byMode := map[retrieve.Mode][]retrieve.Result{
		retrieve.Lexical: docs["Alpha"][:1], retrieve.Vector: docs["Beta"][:1], retrieve.Hybrid: docs["runbook"],
	}
	return deep.DebateOptions{
		Client: c, Model: "llama3.2", ContextLength: 8192, Agents: deep.DebateAgents(3),
		AgentTimeout: 300 * time.Millisecond, Backoff: 10 * time.Millisecond,
		Search: func(_ context.Context, _ string, mode retrieve.Mode, _ int) (*retrieve.Outcome, error) {
			return &retrieve.Outcome{Results: byMode[mode]}, nil
		},
	}
}

// TestDebateAgentTimeoutIsNamed: an agent whose model call hangs is bounded
// by the agent deadline, tried once more as --deep's workers are, and kept
// in the result as failed with its reason; the others still make the answer.
func TestDebateAgentTimeoutIsNamed(t *testing.T) {
	var hung int
	o := debateSetup(t, func(prompt string, structured bool) ollamatest.ChatOutcome {
		switch {
		case structured:
			return ollamatest.ChatOutcome{Reply: `{"answer": "Alpha retries three times [1]; the runbook recommends it [2].", "disagreements": []}`}
		case strings.Contains(prompt, "Beta retries twice"):
			hung++
			return ollamatest.ChatOutcome{Reply: "late", Delay: time.Minute}
		}
		return ollamatest.ChatOutcome{Reply: "From the sources [1]."}
	})
	res, err := deep.Debate(t.Context(), o, question)
	if err != nil {
		t.Fatalf("Debate: %v", err)
	}
	if res.Failed() != 1 || res.Agents[1].Name != "vector" {
		t.Fatalf("failed agents %d, agents %+v; want the vector agent alone failed", res.Failed(), res.Agents)
	}
	var te *deep.TimeoutError
	if !errors.As(res.Agents[1].Err, &te) || te.After != o.AgentTimeout {
		t.Errorf("vector agent's error = %v, want a TimeoutError after %s", res.Agents[1].Err, o.AgentTimeout)
	}
	if hung != 2 {
		t.Errorf("the hung agent was asked %d times, want 2 (one retry after the timeout)", hung)
	}
	if !strings.Contains(res.Answer, "Alpha retries three times") {
		t.Errorf("answer = %q", res.Answer)
	}
}

// TestDebateCancelled: Ctrl-C during a debate returns the cancellation, not
// a result with every agent failed.
func TestDebateCancelled(t *testing.T) {
	o := debateSetup(t, func(string, bool) ollamatest.ChatOutcome {
		return ollamatest.ChatOutcome{Reply: "never", Delay: time.Minute}
	})
	o.AgentTimeout = time.Minute
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	res, err := deep.Debate(ctx, o, question)
	if !errors.Is(err, context.DeadlineExceeded) || res != nil {
		t.Fatalf("Debate = %+v, %v; want the context's error and no result", res, err)
	}
}

// TestDebateRerankSkippedReported: an agent whose retrieval kept the fused
// order because the reranker failed still answers, and the debate reports
// the reranker's failure for the caller's warning.
func TestDebateRerankSkippedReported(t *testing.T) {
	o := debateSetup(t, func(prompt string, structured bool) ollamatest.ChatOutcome {
		if structured {
			return ollamatest.ChatOutcome{Reply: `{"answer": "Alpha retries three times [1].", "disagreements": []}`}
		}
		return ollamatest.ChatOutcome{Reply: "From the sources [1]."}
	})
	slow := errors.New("reranker at http://127.0.0.1:9/v1/rerank did not answer within 10ms")
	inner := o.Search
	o.Search = func(ctx context.Context, q string, mode retrieve.Mode, k int) (*retrieve.Outcome, error) {
		out, err := inner(ctx, q, mode, k)
		if err == nil && mode == retrieve.Vector {
			out.RerankSkipped = slow
		}
		return out, err
	}
	res, err := deep.Debate(t.Context(), o, question)
	if err != nil {
		t.Fatalf("Debate: %v", err)
	}
	if res.RerankSkipped != slow || res.Failed() != 0 {
		t.Errorf("RerankSkipped = %v, failed agents %d; want %v and none failed", res.RerankSkipped, res.Failed(), slow)
	}
}
