package deep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/ragcli/rag/internal/answer"
	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/ollama"
	"github.com/ragcli/rag/internal/retrieve"
	"github.com/ragcli/rag/internal/retry"
)

type statusErr int

func (e statusErr) Error() string   { return fmt.Sprintf("status %d", int(e)) }
func (e statusErr) StatusCode() int { return int(e) }

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestTransient(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{context.Canceled, false},
		{fmt.Errorf("chat: %w", context.Canceled), false},
		{&TimeoutError{Step: "answer"}, true},
		{fmt.Errorf("ollama at http://x did not answer in time: %w", context.DeadlineExceeded), true},
		{&ollama.StatusError{Host: "http://127.0.0.1:11434", Code: 500, Msg: "llama runner process has terminated"}, true},
		{fmt.Errorf("chat: %w", &ollama.StatusError{Code: 503, Msg: "server busy"}), true},
		{&ollama.StatusError{Code: 429, Msg: "too many"}, true},
		{&ollama.StatusError{Code: 400, Msg: "invalid options"}, false},
		{&ollama.StatusError{Code: 404, Msg: "not found"}, false},
		{fmt.Errorf("x: %w", statusErr(502)), true},
		{fmt.Errorf("x: %w", statusErr(422)), false},
		// What the adapter marks decides (package retry): a server seen
		// before that stops answering is worth a try, one never reached is not.
		{&ollama.UnreachableError{Host: "http://x", Err: syscall.ECONNREFUSED, Seen: true}, true},
		{retry.Transient(fmt.Errorf("cannot reach ollama: %w", embed.ErrUnavailable)), true},
		{retry.Permanent(fmt.Errorf("cannot reach ollama: %w", embed.ErrUnavailable)), false},
		{&url.Error{Op: "Post", URL: "http://x", Err: syscall.ECONNRESET}, true},
		{&net.OpError{Op: "read", Err: syscall.ECONNREFUSED}, true},
		{io.ErrUnexpectedEOF, true},
		{&url.Error{Op: "Post", URL: "http://x", Err: timeoutErr{}}, true},
		{retry.Transient(fmt.Errorf("ollama at http://x stopped answering: %w", ollama.ErrChatIdle)), true},
		{answer.ErrNoSources, false},
		{answer.ErrTooLong, false},
		{errors.New(`model "qwen" not found on http://x`), false},
	} {
		if got := Transient(tc.err); got != tc.want {
			t.Errorf("Transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestParsePlan(t *testing.T) {
	for _, tc := range []struct {
		reply   string
		n       int
		want    []string
		wantErr string
	}{
		{`{"questions": ["a?", "b?"]}`, 4, []string{"a?", "b?"}, ""},
		{"  {\"questions\": [\"  spaced\\n  out?  \"]}\n", 4, []string{"spaced out?"}, ""},
		{`{"questions": ["a?", "A?", "", "b?"]}`, 4, []string{"a?", "b?"}, ""},
		{`{"questions": ["1", "2", "3", "4", "5"]}`, 3, []string{"1", "2", "3"}, ""},
		{`{"questions": []}`, 4, nil, "no sub-questions"},
		{`{}`, 4, nil, "no sub-questions"},
		{`{"questions": "a?"}`, 4, nil, "not valid JSON"},
		{`{"questions": [1, 2]}`, 4, nil, "not valid JSON"},
		{"Here is my plan:\n1. a?", 4, nil, "not valid JSON"},
		{"", 4, nil, "not valid JSON"},
		{`{"questions": ["` + longQ + `"]}`, 4, nil, "at most 500"},
	} {
		got, err := ParsePlan(tc.reply, tc.n)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParsePlan(%q) err = %v, want %q", tc.reply, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParsePlan(%q) = %q, %v; want %q", tc.reply, got, err, tc.want)
		}
	}
}

var longQ = strings.Repeat("x", 501)

func TestParseVerdict(t *testing.T) {
	for _, tc := range []struct {
		reply   string
		want    Verdict
		wantErr bool
	}{
		{`{"supported": true, "critique": ""}`, Verdict{Supported: true}, false},
		{`{"supported": false, "critique": " [2] says twice "}`, Verdict{Critique: "[2] says twice"}, false},
		{`{"supported": false}`, Verdict{Critique: "the checker found claims the cited sources do not state"}, false},
		{`{"critique": "fine"}`, Verdict{}, true},
		{`{"supported": "yes"}`, Verdict{}, true},
		{`supported`, Verdict{}, true},
	} {
		got, err := ParseVerdict(tc.reply)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseVerdict(%q) = %+v, %v; want %+v, error %v", tc.reply, got, err, tc.want, tc.wantErr)
		}
	}
}

func FuzzParsePlan(f *testing.F) {
	f.Add(`{"questions": ["a?", "b?"]}`, 4)
	f.Add(`{"questions": []}`, 1)
	f.Add("not json", 2)
	f.Fuzz(func(t *testing.T, reply string, n int) {
		n = n%8 + 1
		if n < 1 {
			n = -n + 1
		}
		qs, err := ParsePlan(reply, n)
		if err != nil {
			return
		}
		if len(qs) == 0 || len(qs) > n {
			t.Fatalf("ParsePlan gave %d questions for n=%d", len(qs), n)
		}
		for _, q := range qs {
			if q == "" || len([]rune(q)) > maxSubQuestion {
				t.Fatalf("bad question %q", q)
			}
		}
	})
}

func FuzzParseVerdict(f *testing.F) {
	f.Add(`{"supported": false, "critique": "x"}`)
	f.Add(`{"supported": true}`)
	f.Fuzz(func(t *testing.T, reply string) {
		v, err := ParseVerdict(reply)
		if err == nil && !v.Supported && v.Critique == "" {
			t.Fatal("an unsupported verdict without a critique")
		}
	})
}

func TestRenumber(t *testing.T) {
	m := map[int]int{1: 4, 2: 2, 3: 7}
	for _, tc := range []struct{ in, want string }{
		{"a [1] b [2][3].", "a [4] b [2][7]."},
		{"a [1, 3] b [1;2]", "a [4, 7] b [4, 2]"},
		{"cites [9] unknown", "cites  unknown"},
		{"mixed [1, 9]", "mixed [4]"},
		{"no citations", "no citations"},
		{"not a cite [x] or [ 1 ]", "not a cite [x] or [ 1 ]"},
	} {
		if got := renumber(tc.in, m); got != tc.want {
			t.Errorf("renumber(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMergerDeduplicatesAcrossParts(t *testing.T) {
	src := func(n int, id uint64, path string, cited bool) answer.Source {
		return answer.Source{N: n, Cited: cited, Result: retrieve.Result{Chunk: index.Chunk{ID: id, Path: path}}}
	}
	var mg merger
	t1, c1 := mg.add("x [2] y [1]", []answer.Source{src(1, 10, "a", true), src(2, 20, "b", true), src(3, 30, "c", false)})
	t2, c2 := mg.add("z [1] w [2]", []answer.Source{src(1, 20, "b", true), src(2, 40, "d", true)})
	if t1 != "x [2] y [1]" || t2 != "z [2] w [3]" {
		t.Errorf("texts = %q, %q", t1, t2)
	}
	if len(c1) != 2 || len(c2) != 2 || c2[0].N != 2 || c2[1].N != 3 {
		t.Errorf("cited = %+v / %+v", c1, c2)
	}
	if len(mg.sources) != 3 || mg.sources[2].Path != "d" {
		t.Errorf("merged = %+v, want a, b, d (c was not cited)", mg.sources)
	}
}
