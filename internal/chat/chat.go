// Package chat holds a conversation over the index: each follow-up question
// is rewritten by the chat model into a standalone question (so "and its
// timeout?" retrieves the passages about the thing discussed), which is then
// answered from the index like any ask, with its own sources. It keeps the
// conversation and the settings the commands (/k, /mode) change; it does not
// read a terminal or print.
package chat

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/ragcli/rag/internal/llm"
	"github.com/ragcli/rag/internal/retrieve"
	"github.com/ragcli/rag/internal/server"
)

// Asker answers a standalone question from the index: server.Service, the
// path rag ask, MCP and HTTP share.
type Asker interface {
	Ask(ctx context.Context, req server.AskRequest, onDelta func(string) error) (*server.AskResponse, error)
}

var _ Asker = (*server.Service)(nil)

// Turn is one question and its answer.
type Turn struct {
	Question string `json:"question"`
	// Standalone is the question as retrieval saw it: the follow-up
	// rewritten with what the conversation said before.
	Standalone string `json:"standalone"`
	*server.AskResponse
}

// Session is one conversation.
type Session struct {
	Asker Asker
	Chat  llm.Client
	Model string
	K     int    // passages per answer (server.DefaultK when 0)
	Mode  string // retrieval mode ("hybrid" when empty)

	history []Turn
}

// historyTurns is how many earlier turns the rewrite sees, and answerChars
// how much of each answer: enough to resolve "it" and "that", small enough
// for any model's context.
const (
	historyTurns = 4
	answerChars  = 600
)

const rewritePrompt = `You rewrite the last question of a conversation into one standalone question that can be understood without the conversation: replace pronouns and references ("it", "that", "the second one") by what they stand for, and keep every detail the user asked about.
Answer with the rewritten question alone, on one line, without quotes or explanation. If the question is already standalone, repeat it unchanged.`

// Ask answers question, rewriting it first when the conversation has
// earlier turns, and records the turn.
func (s *Session) Ask(ctx context.Context, question string, onDelta func(string) error) (*Turn, error) {
	question = strings.TrimSpace(question)
	standalone, err := s.Rewrite(ctx, question)
	if err != nil {
		return nil, err
	}
	ans, err := s.Asker.Ask(ctx, server.AskRequest{Question: standalone, K: s.K, Mode: s.Mode}, onDelta)
	if err != nil {
		return nil, err
	}
	t := Turn{Question: question, Standalone: standalone, AskResponse: ans}
	s.history = append(s.history, t)
	return &t, nil
}

// Rewrite returns question as a standalone question given the conversation
// so far; the first question of a conversation is its own.
func (s *Session) Rewrite(ctx context.Context, question string) (string, error) {
	if len(s.history) == 0 {
		return question, nil
	}
	var b strings.Builder
	b.WriteString("Conversation:\n")
	for _, t := range s.history[max(0, len(s.history)-historyTurns):] {
		a := t.Answer
		if len(a) > answerChars {
			a = a[:answerChars] + "..."
		}
		fmt.Fprintf(&b, "User: %s\nAssistant: %s\n", t.Question, strings.TrimSpace(a))
	}
	fmt.Fprintf(&b, "\nLast question: %s\n\nStandalone question:", question)
	zero := 0.0
	resp, err := s.Chat.Chat(ctx, llm.Request{Model: s.Model, Temperature: &zero, Messages: []llm.Message{
		{Role: "system", Content: rewritePrompt},
		{Role: "user", Content: b.String()},
	}}, nil)
	if err != nil {
		return "", fmt.Errorf("rewrite the follow-up question: %w", err)
	}
	out := strings.TrimSpace(resp.Content)
	if i := strings.IndexByte(out, '\n'); i >= 0 {
		out = strings.TrimSpace(out[:i])
	}
	out = strings.Trim(out, "\"'")
	if out == "" {
		return question, nil // the model said nothing useful: ask as asked
	}
	return out, nil
}

// Last is the latest turn, nil before the first.
func (s *Session) Last() *Turn {
	if len(s.history) == 0 {
		return nil
	}
	return &s.history[len(s.history)-1]
}

// Reset forgets the conversation; the next question stands alone.
func (s *Session) Reset() { s.history = nil }

// Command is a line that starts with a slash.
type Command struct {
	Name string // "sources", "reset", "k", "mode", "help", "quit"
	Arg  string
}

// Help lists the commands.
const Help = `/sources   the sources of the last answer
/reset     forget the conversation; the next question stands alone
/k N       passages per answer (1-50)
/mode M    retrieval: hybrid, vector or lexical
/help      this list
/quit      end (Ctrl-D too)`

// ParseCommand parses a line starting with "/"; ok is false for any other
// line (a question).
func ParseCommand(line string) (c Command, ok bool, err error) {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "/") {
		return Command{}, false, nil
	}
	name, arg, _ := strings.Cut(strings.TrimPrefix(line, "/"), " ")
	c = Command{Name: strings.ToLower(name), Arg: strings.TrimSpace(arg)}
	switch c.Name {
	case "sources", "reset", "help", "quit", "exit":
		if c.Name == "exit" {
			c.Name = "quit"
		}
		return c, true, nil
	case "k", "mode":
		if c.Arg == "" {
			return c, true, fmt.Errorf("/%s needs a value (/help lists the commands)", c.Name)
		}
		return c, true, nil
	}
	return c, true, fmt.Errorf("unknown command /%s (/help lists the commands)", c.Name)
}

// Apply carries out /k and /mode on the session.
func (s *Session) Apply(c Command) error {
	switch c.Name {
	case "k":
		k, err := strconv.Atoi(c.Arg)
		if err != nil || k < 1 || k > server.MaxK {
			return fmt.Errorf("/k takes a number from 1 to %d, not %q", server.MaxK, c.Arg)
		}
		s.K = k
	case "mode":
		m, err := retrieve.ParseMode(c.Arg)
		if err != nil {
			return err
		}
		s.Mode = string(m)
	case "reset":
		s.Reset()
	}
	return nil
}
