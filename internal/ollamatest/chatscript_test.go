package ollamatest_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/ragcli/rag/internal/ollamatest"
)

func chatText(t *testing.T, c *api.Client, ctx context.Context, content string) (string, error) {
	t.Helper()
	var b strings.Builder
	err := c.Chat(ctx, &api.ChatRequest{Model: "llama3.2", Messages: []api.Message{{Role: "user", Content: content}}},
		func(r api.ChatResponse) error { b.WriteString(r.Message.Content); return nil })
	return b.String(), err
}

func TestChatRulesNewestMatchThenUsedUp(t *testing.T) {
	s, c := start(t)
	s.SetChatReply(func(api.ChatRequest) string { return "fallback" })
	s.AddChatRule(ollamatest.ChatRule{Match: []string{"alpha"}, ChatOutcome: ollamatest.ChatOutcome{Reply: "alpha always"}})
	s.AddChatRule(ollamatest.ChatRule{Match: []string{"alpha", "beta"}, Times: 1, ChatOutcome: ollamatest.ChatOutcome{Reply: "both once"}})
	for _, tc := range []struct{ in, want string }{
		{"alpha and beta", "both once"},
		{"alpha and beta", "alpha always"},
		{"alpha", "alpha always"},
		{"gamma", "fallback"},
	} {
		got, err := chatText(t, c, t.Context(), tc.in)
		if err != nil || got != tc.want {
			t.Errorf("chat(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	s.ClearChatRules()
	if got, _ := chatText(t, c, t.Context(), "alpha"); got != "fallback" {
		t.Errorf("after ClearChatRules: %q, want fallback", got)
	}
}

func TestChatRuleStatus(t *testing.T) {
	s, c := start(t)
	s.AddChatRule(ollamatest.ChatRule{Times: 2, ChatOutcome: ollamatest.ChatOutcome{Status: 500, Body: `{"error":"runner crashed"}`}})
	for range 2 {
		_, err := chatText(t, c, t.Context(), "q")
		statusError(t, err, http.StatusInternalServerError, "runner crashed")
	}
	if _, err := chatText(t, c, t.Context(), "q"); err != nil {
		t.Fatalf("third call: %v", err)
	}
}

func TestChatHookPerRequestAndDelay(t *testing.T) {
	s, c := start(t)
	var calls atomic.Int32
	s.SetChatHook(func(req api.ChatRequest) ollamatest.ChatOutcome {
		calls.Add(1)
		if strings.Contains(req.Messages[0].Content, "slow") {
			return ollamatest.ChatOutcome{Reply: "late", Delay: time.Minute}
		}
		return ollamatest.ChatOutcome{Reply: "echo " + req.Messages[0].Content}
	})
	if got, err := chatText(t, c, t.Context(), "fast"); err != nil || got != "echo fast" {
		t.Errorf("chat = %q, %v", got, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := chatText(t, c, ctx, "slow"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow chat: err = %v, want the client's deadline", err)
	}
	s.SetChatHook(nil)
	if got, _ := chatText(t, c, t.Context(), "x"); !strings.Contains(got, "According to the sources") {
		t.Errorf("after SetChatHook(nil): %q, want the default reply", got)
	}
	if calls.Load() != 2 {
		t.Errorf("hook calls = %d, want 2", calls.Load())
	}
}

func TestParseChatRule(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    ollamatest.ChatRule
		wantErr bool
	}{
		{args: []string{"hello", "there"}, want: ollamatest.ChatRule{ChatOutcome: ollamatest.ChatOutcome{Reply: "hello there"}}},
		{args: []string{"-match", "a b", "-match", "c", "-n", "2", "-delay", "1s", "ok"},
			want: ollamatest.ChatRule{Match: []string{"a b", "c"}, Times: 2, ChatOutcome: ollamatest.ChatOutcome{Reply: "ok", Delay: time.Second}}},
		{args: []string{"-status", "503", `{"error":"busy"}`},
			want: ollamatest.ChatRule{ChatOutcome: ollamatest.ChatOutcome{Status: 503, Body: `{"error":"busy"}`}}},
		{args: []string{"-n", "-1", "x"}, wantErr: true},
		{args: []string{"-delay", "soon", "x"}, wantErr: true},
		{args: []string{"-bogus"}, wantErr: true},
	} {
		got, err := ollamatest.ParseChatRule(tc.args)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseChatRule(%q): err = %v, want error %v", tc.args, err, tc.wantErr)
			continue
		}
		if !tc.wantErr && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseChatRule(%q) = %+v, want %+v", tc.args, got, tc.want)
		}
	}
}
