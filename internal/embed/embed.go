// Package embed defines what rag needs from an embedding model: turn texts into
// vectors. It holds the interface and the errors callers branch on; the Ollama
// implementation lives in package ollama. It does not batch, retry or split:
// that is the ingest pipeline's job, which knows the chunks.
package embed

import (
	"context"
	"errors"
)

// Embedder turns texts into vectors of one fixed dimension.
type Embedder interface {
	// Embed returns one vector per text, in order. It never truncates a text:
	// an input over the model's context length fails with ErrInputTooLong.
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	// Model names the embedding model, as recorded in the index.
	Model() string
}

// ErrInputTooLong reports that an input exceeds the model's context length.
// The caller re-splits the input; it is never retried as is.
var ErrInputTooLong = errors.New("input exceeds the embedding model's context length")

// ErrUnavailable reports that the embedding server cannot be reached. Ingest
// then stores chunks without vectors, to embed them on a later run.
var ErrUnavailable = errors.New("embedding server unavailable")
