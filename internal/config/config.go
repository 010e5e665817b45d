// Package config resolves rag's settings: command-line flags first, then
// environment variables, then the config file, then built-in defaults. It also
// knows where rag keeps its files by default. It does not read flags itself;
// the cli package hands it what the user set.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"gopkg.in/yaml.v3"
)

// Defaults.
const (
	DefaultEmbedModel  = "all-minilm"
	DefaultChatModel   = "llama3.2"
	DefaultChunkTokens = 256
)

// Settings are the resolved values a command runs with.
type Settings struct {
	EmbedModel    string `yaml:"embed_model"`
	ChatModel     string `yaml:"chat_model"`
	OllamaHost    string `yaml:"ollama_host"` // "" means OLLAMA_HOST or Ollama's default
	Index         string `yaml:"index"`
	ChunkTokens   int    `yaml:"chunk_tokens"`
	EmbedExplicit bool   `yaml:"-"` // the embedding model was chosen by the user, not defaulted
}

// File returns the config file's path: $RAG_CONFIG, else rag/config.yaml in
// the user's config folder ($XDG_CONFIG_HOME or ~/.config on Linux).
func File(getenv func(string) string) string {
	if p := getenv("RAG_CONFIG"); p != "" {
		return p
	}
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		var err error
		if dir, err = os.UserConfigDir(); err != nil {
			return ""
		}
	}
	return filepath.Join(dir, "rag", "config.yaml")
}

// DataDir returns the folder rag keeps its default index in: $XDG_DATA_HOME/rag,
// else ~/.local/share/rag on Unix, ~/Library/Application Support/rag on macOS,
// %LOCALAPPDATA%\rag on Windows.
func DataDir(getenv func(string) string) (string, error) {
	if d := getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "rag"), nil
	}
	home := getenv("HOME")
	switch runtime.GOOS {
	case "windows":
		if d := getenv("LOCALAPPDATA"); d != "" {
			return filepath.Join(d, "rag"), nil
		}
	case "darwin":
		if home != "" {
			return filepath.Join(home, "Library", "Application Support", "rag"), nil
		}
	}
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", fmt.Errorf("find home folder: %w", err)
		}
	}
	return filepath.Join(home, ".local", "share", "rag"), nil
}

// Resolve merges flags (non-zero fields of flags win), the environment
// (RAG_EMBED_MODEL, RAG_CHAT_MODEL, RAG_INDEX, RAG_CHUNK_TOKENS is not read:
// chunk size is a per-index choice), the config file and the defaults.
func Resolve(flags Settings, getenv func(string) string) (Settings, error) {
	var file Settings
	if p := File(getenv); p != "" {
		raw, err := os.ReadFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return Settings{}, fmt.Errorf("read config file: %w", err)
		default:
			dec := yaml.NewDecoder(bytes.NewReader(raw))
			dec.KnownFields(true) // a misspelt key is an error, not silently ignored
			if err := dec.Decode(&file); err != nil && !errors.Is(err, io.EOF) {
				return Settings{}, fmt.Errorf("read config file %s: %w", p, err)
			}
		}
	}
	s := Settings{}
	pick := func(vals ...string) string {
		for _, v := range vals {
			if v != "" {
				return v
			}
		}
		return ""
	}
	s.EmbedModel = pick(flags.EmbedModel, getenv("RAG_EMBED_MODEL"), file.EmbedModel)
	s.EmbedExplicit = s.EmbedModel != ""
	s.EmbedModel = pick(s.EmbedModel, DefaultEmbedModel)
	s.ChatModel = pick(flags.ChatModel, getenv("RAG_CHAT_MODEL"), file.ChatModel, DefaultChatModel)
	s.OllamaHost = pick(flags.OllamaHost, getenv("OLLAMA_HOST"), file.OllamaHost)
	s.Index = pick(flags.Index, getenv("RAG_INDEX"), file.Index)
	if s.Index == "" {
		d, err := DataDir(getenv)
		if err != nil {
			return Settings{}, err
		}
		s.Index = filepath.Join(d, "index")
	}

	s.ChunkTokens = flags.ChunkTokens
	if s.ChunkTokens == 0 {
		s.ChunkTokens = file.ChunkTokens // 0 still: the index's own, or DefaultChunkTokens
	}
	return s, nil
}
