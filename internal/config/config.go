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
	"strings"

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
	EmbedModel string `yaml:"embed_model"`
	ChatModel  string `yaml:"chat_model"`
	OllamaHost string `yaml:"ollama_host"` // "" means OLLAMA_HOST or Ollama's default
	Index      string `yaml:"index"`
	// Store is where the index lives: "" for the local index in Index, or a
	// store URL (weaviate://HOST:PORT/COLLECTION; see package store). It is
	// checked where a command opens it.
	Store       string `yaml:"store"`
	ChunkTokens int    `yaml:"chunk_tokens"`
	// OCR reads PDF pages without a text layer with tesseract (ingest --ocr).
	OCR           bool `yaml:"ocr"`
	EmbedExplicit bool `yaml:"-"` // the embedding model was chosen by the user, not defaulted

	// Providers are the model-server settings (providers.go).
	Providers `yaml:",inline"`

	// Sources says where each resolved value came from, by its config file
	// key (embed_model, chat_model, ollama_host, index, chunk_tokens).
	Sources map[string]Source `yaml:"-"`
}

// Keys are the config file's keys, in the order rag doctor shows them.
var Keys = []string{"index", "embed_model", "chat_model", "ollama_host", "chunk_tokens", "ocr", "store"}

// flagOf and envVarOf name the flag and environment variable of each key. No
// environment variable sets chunk_tokens: chunk size is a per-index choice.
var (
	flagOf = map[string]string{"index": "--index", "embed_model": "--embed-model", "chat_model": "--chat-model",
		"ollama_host": "--ollama-host", "chunk_tokens": "--chunk-tokens", "ocr": "--ocr", "store": "--store"}
	envVarOf = map[string]string{"index": "RAG_INDEX", "embed_model": "RAG_EMBED_MODEL", "chat_model": "RAG_CHAT_MODEL",
		"ollama_host": "OLLAMA_HOST", "store": "RAG_STORE"}
)

// Origin is the kind of place a setting came from.
type Origin string

// The places a setting can come from, highest precedence first.
const (
	FromFlag    Origin = "flag"
	FromEnv     Origin = "env"
	FromFile    Origin = "file"
	FromDefault Origin = "default"
)

// Source is where one setting's value came from: the flag (--index), the
// environment variable (RAG_INDEX), the config file's path, or a default.
type Source struct {
	Origin Origin `json:"origin"`
	Name   string `json:"name,omitempty"` // flag, variable or file path; "" for a default
}

func (s Source) String() string {
	switch s.Origin {
	case FromFlag:
		return "flag " + s.Name
	case FromEnv:
		return "environment " + s.Name
	case FromFile:
		return "config file " + s.Name
	}
	if s.Name != "" {
		return "default (" + s.Name + ")"
	}
	return "default"
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
// (RAG_EMBED_MODEL, RAG_CHAT_MODEL, RAG_INDEX, RAG_STORE, OLLAMA_HOST; RAG_CHUNK_TOKENS is
// not read: chunk size is a per-index choice), the config file and the
// defaults, and records in Sources where each value came from.
//
// An index path from the environment or the config file may start with ~ or
// name $HOME (or any variable); a relative path in the config file is taken
// relative to the file's folder, so it means the same from every folder.
func Resolve(flags Settings, getenv func(string) string) (Settings, error) {
	var file Settings
	path := File(getenv)
	if path != "" {
		raw, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return Settings{}, fmt.Errorf("read config file: %w", err)
		default:
			dec := yaml.NewDecoder(bytes.NewReader(raw))
			dec.KnownFields(true) // a misspelt key is an error, not silently ignored
			if err := dec.Decode(&file); err != nil && !errors.Is(err, io.EOF) {
				return Settings{}, fmt.Errorf("read config file %s: %w", path, err)
			}
		}
	}
	s := Settings{Sources: map[string]Source{}}
	// pick returns the first value set, flag, environment, then file, and
	// records its source; "" when none is.
	pick := func(key, flag, file string) string {
		if flag != "" {
			s.Sources[key] = Source{FromFlag, flagOf[key]}
			return flag
		}
		if env, ok := envVarOf[key]; ok {
			if v := getenv(env); v != "" {
				s.Sources[key] = Source{FromEnv, env}
				return v
			}
		}
		if file != "" {
			s.Sources[key] = Source{FromFile, path}
			return file
		}
		return ""
	}
	s.EmbedModel = pick("embed_model", flags.EmbedModel, file.EmbedModel)
	s.EmbedExplicit = s.EmbedModel != ""
	if !s.EmbedExplicit {
		s.EmbedModel = DefaultEmbedModel
		s.Sources["embed_model"] = Source{Origin: FromDefault}
	}
	if s.ChatModel = pick("chat_model", flags.ChatModel, file.ChatModel); s.ChatModel == "" {
		s.ChatModel = DefaultChatModel
		s.Sources["chat_model"] = Source{Origin: FromDefault}
	}
	if s.OllamaHost = pick("ollama_host", flags.OllamaHost, file.OllamaHost); s.OllamaHost == "" {
		s.Sources["ollama_host"] = Source{FromDefault, "http://127.0.0.1:11434"}
	}
	if s.Store = pick("store", flags.Store, file.Store); s.Store == "" {
		s.Sources["store"] = Source{FromDefault, "the local index"}
	}
	switch env := getenv("RAG_INDEX"); {
	case flags.Index != "":
		s.Index = flags.Index // the shell has expanded it
		s.Sources["index"] = Source{FromFlag, flagOf["index"]}
	case env != "":
		s.Index = expandPath(env, getenv)
		s.Sources["index"] = Source{FromEnv, "RAG_INDEX"}
	case file.Index != "":
		s.Index = expandPath(file.Index, getenv)
		if !filepath.IsAbs(s.Index) {
			s.Index = filepath.Join(filepath.Dir(path), s.Index)
		}
		s.Sources["index"] = Source{FromFile, path}
	}
	if s.Index == "" {
		d, err := DataDir(getenv)
		if err != nil {
			return Settings{}, err
		}
		s.Index = filepath.Join(d, "index")
		s.Sources["index"] = Source{Origin: FromDefault}
	}

	var err error
	if s.Providers, err = resolveProviders(flags.Providers, file.Providers, getenv, path, s.Sources); err != nil {
		return Settings{}, err
	}

	s.ChunkTokens = flags.ChunkTokens
	switch {
	case s.ChunkTokens != 0:
		s.Sources["chunk_tokens"] = Source{FromFlag, flagOf["chunk_tokens"]}
	case file.ChunkTokens != 0:
		s.ChunkTokens = file.ChunkTokens
		s.Sources["chunk_tokens"] = Source{FromFile, path}
	default: // 0 still: the index's own, or DefaultChunkTokens
		s.Sources["chunk_tokens"] = Source{FromDefault, "the index's own"}
	}
	switch {
	case flags.OCR:
		s.OCR = true
		s.Sources["ocr"] = Source{FromFlag, flagOf["ocr"]}
	case file.OCR:
		s.OCR = true
		s.Sources["ocr"] = Source{FromFile, path}
	default:
		s.Sources["ocr"] = Source{Origin: FromDefault}
	}
	return s, nil
}

// expandPath expands a leading ~ (the home folder) and environment variables
// ($HOME, ${XDG_DATA_HOME}) in a path. "~user" is left alone.
func expandPath(p string, getenv func(string) string) string {
	if p == "" {
		return ""
	}
	home := func() string {
		if h := getenv("HOME"); h != "" {
			return h
		}
		h, _ := os.UserHomeDir()
		return h
	}
	if p == "~" || strings.HasPrefix(p, "~/") || strings.HasPrefix(p, "~"+string(filepath.Separator)) {
		if h := home(); h != "" {
			p = h + p[1:]
		}
	}
	return os.Expand(p, func(k string) string {
		if k == "HOME" {
			return home()
		}
		return getenv(k)
	})
}
