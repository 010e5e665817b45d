// Package llm defines what rag needs from a chat model: a streaming answer to a
// list of messages. The Ollama implementation lives in package ollama; tests use
// the fake Ollama server rather than a fake of this interface.
package llm

import "context"

// Message is one chat message.
type Message struct {
	Role    string // "system", "user" or "assistant"
	Content string
}

// Request is one chat call.
type Request struct {
	Model    string
	Messages []Message
	// NumCtx is the context window to ask the server for. Ollama silently drops
	// the start of a prompt longer than its window, so callers size it to fit.
	NumCtx int
	// Format, when set, asks for structured output: "json" or a JSON schema.
	Format []byte
	// Temperature, when non-nil, overrides the model's default.
	Temperature *float64
}

// Response is what a finished chat call returns.
type Response struct {
	Content      string
	PromptTokens int // as counted by the server, 0 when unknown
	OutputTokens int
	// CutAtLimit says the model stopped because it reached its output-token
	// limit (Ollama's done_reason "length", OpenAI's finish_reason "length"),
	// not because it had finished: a structured reply is then incomplete.
	CutAtLimit bool
}

// Client streams chat answers. onDelta receives each piece of the answer as it
// arrives; an error from it stops the stream and is returned.
type Client interface {
	Chat(ctx context.Context, req Request, onDelta func(string) error) (Response, error)
}
