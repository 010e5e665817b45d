package ollamatest

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ollama/ollama/api"
)

// ChatOutcome is how the fake answers one /api/chat request.
type ChatOutcome struct {
	// Reply is the text of the answer, streamed as usual.
	Reply string
	// Status, when set to anything but 200, answers with this status and Body
	// instead of a reply, as [Server.FailNext] does: a body that starts with
	// '{' is sent as application/json.
	Status int
	Body   string
	// Delay waits before answering. A client that gives up meanwhile gets no
	// answer, as with [Server.SetLatency].
	Delay time.Duration
}

// SetChatHook scripts every following /api/chat answer per request: fn is
// called once per well-formed request for an installed chat model, outside
// the server's lock and possibly from several requests at once. Rules added
// with [Server.AddChatRule] are tried first. nil removes the hook, leaving
// SetChatReply's reply (or DefaultChatReply).
func (s *Server) SetChatHook(fn func(req api.ChatRequest) ChatOutcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chatHook = fn
}

// ChatRule answers the /api/chat requests that match it with its outcome.
type ChatRule struct {
	// Match lists texts that must all occur in the request's messages (their
	// contents joined by newlines); an empty list matches every request.
	Match []string
	// Times is how many requests the rule answers before it is used up; 0
	// means without end.
	Times int
	ChatOutcome
}

// AddChatRule adds r to the server's chat rules. A request is answered by
// the most recently added rule that matches it and is not used up, else by
// the hook, else by the scripted reply: a later rule overrides an earlier,
// so a script states the general case first and then the exceptions.
func (s *Server) AddChatRule(r ChatRule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chatRules = append(s.chatRules, &chatRule{ChatRule: r, left: r.Times})
}

// ClearChatRules removes every chat rule.
func (s *Server) ClearChatRules() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chatRules = nil
}

type chatRule struct {
	ChatRule
	left int // answers left when Times > 0
}

// chatOutcome picks the answer to req: the newest live rule that matches,
// the hook, or the reply function.
func (s *Server) chatOutcome(req api.ChatRequest) ChatOutcome {
	var text strings.Builder
	for _, m := range req.Messages {
		text.WriteString(m.Content)
		text.WriteByte('\n')
	}
	s.mu.Lock()
	for _, r := range slices.Backward(s.chatRules) {
		if r.Times > 0 && r.left <= 0 || !matchesAll(text.String(), r.Match) {
			continue
		}
		if r.Times > 0 {
			r.left--
		}
		s.mu.Unlock()
		return r.ChatOutcome
	}
	hook, replyFn := s.chatHook, s.chatReply
	s.mu.Unlock()
	if hook != nil {
		return hook(req)
	}
	if replyFn == nil {
		replyFn = DefaultChatReply
	}
	return ChatOutcome{Reply: replyFn(req)}
}

func matchesAll(text string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(text, sub) {
			return false
		}
	}
	return true
}

// ParseChatRule parses a chat rule written as command arguments, for test
// scripts:
//
//	[-match TEXT]... [-n TIMES] [-status CODE] [-delay DURATION] [REPLY...]
//
// The reply is the remaining arguments joined by spaces; with -status it is
// the error body instead. For example
//
//	-match "Question: how does A retry" -n 2 -status 500 {"error":"runner crashed"}
func ParseChatRule(args []string) (ChatRule, error) {
	var r ChatRule
	fs := flag.NewFlagSet("chat rule", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Func("match", "text the request must contain (repeatable)", func(v string) error {
		r.Match = append(r.Match, v)
		return nil
	})
	fs.IntVar(&r.Times, "n", 0, "how many requests the rule answers; 0 for all")
	fs.IntVar(&r.Status, "status", 0, "answer this HTTP status with the rest as body")
	fs.DurationVar(&r.Delay, "delay", 0, "wait before answering")
	if err := fs.Parse(args); err != nil {
		return ChatRule{}, fmt.Errorf("chat rule: %w", err)
	}
	if r.Times < 0 {
		return ChatRule{}, fmt.Errorf("chat rule: -n %d is negative", r.Times)
	}
	text := strings.Join(fs.Args(), " ")
	if r.Status != 0 && r.Status != 200 {
		r.Body = text
	} else {
		r.Reply = text
	}
	return r, nil
}
