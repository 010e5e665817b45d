package deep_test

import (
	"testing"
	"time"

	"github.com/ragcli/rag/internal/deep"
)

// latency is a realistic time for one chat call of a small local model: the
// fake answers every request after it.
const latency = 300 * time.Millisecond

const plan4 = `{"questions": ["How does Alpha retry?", "How does Beta retry?", "What does the runbook recommend?", "Does Alpha back off?"]}`

// parallelRun makes one 4-worker deep answer against the fake with latency
// per call, parallel workers at a time.
func parallelRun(tb testing.TB, parallel int) *deep.Result {
	s := newSetup(tb)
	s.model.plan = plan4
	s.srv.SetLatency(latency)
	s.opts.Parallel = parallel
	s.opts.OnEvent = nil
	res, err := deep.Run(tb.Context(), s.opts, question)
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

// TestParallelGain logs how much running the workers at once saves: the wall
// time of a 4-worker answer against the sum of its workers' own times. It
// asserts nothing about time; the numbers are for docs/deep.md.
func TestParallelGain(t *testing.T) {
	if testing.Short() {
		t.Skip("takes a few seconds of fake latency")
	}
	for _, parallel := range []int{1, 4} {
		res := parallelRun(t, parallel)
		if len(res.Parts) != 4 || res.Calls != 10 {
			t.Fatalf("%d parts, %d calls; want 4 and 10", len(res.Parts), res.Calls)
		}
		var slowest time.Duration
		for _, p := range res.Parts {
			slowest = max(slowest, p.Elapsed)
		}
		t.Logf("parallel=%d: wall %v for %d calls; workers' own times sum to %v (slowest %v); workers' wall share %v, gain %.2fx",
			parallel, res.Elapsed.Round(time.Millisecond), res.Calls, res.Work.Round(time.Millisecond), slowest.Round(time.Millisecond),
			(res.Elapsed - 2*latency).Round(time.Millisecond), float64(res.Work)/float64(res.Elapsed-2*latency))
	}
}

// BenchmarkDeep4Workers reports the gain as a metric: the sum of the workers'
// times over the run's wall time, plan and final answer included.
func BenchmarkDeep4Workers(b *testing.B) {
	for _, parallel := range []int{1, 4} {
		b.Run(map[int]string{1: "serial", 4: "parallel4"}[parallel], func(b *testing.B) {
			var work, wall time.Duration
			for b.Loop() {
				res := parallelRun(b, parallel)
				work += res.Work
				wall += res.Elapsed
			}
			b.ReportMetric(float64(work)/float64(wall), "work/wall")
		})
	}
}
