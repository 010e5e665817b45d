package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Provider names.
const (
	Ollama = "ollama"
	OpenAI = "openai"
	Cohere = "cohere"
)

// Providers are the model-server settings: which provider embeds and which
// chats, where they are and where their key comes from, and the reranker.
// The config file takes them at its top level (provider, embed_provider,
// base_url, ..., and rerank: {provider, base_url, model, candidates,
// api_key_env}); the
// environment as RAG_PROVIDER, RAG_EMBED_PROVIDER, RAG_CHAT_PROVIDER,
// OPENAI_BASE_URL, RAG_API_KEY_ENV, RAG_ALLOW_INSECURE_REMOTE,
// RAG_EMBED_CONTEXT, RAG_CHAT_CONTEXT, RAG_EMBED_DIMENSIONS, RAG_RERANK_PROVIDER,
// RAG_RERANK_BASE_URL, RAG_RERANK_MODEL, RAG_RERANK_CANDIDATES,
// RAG_RERANK_API_KEY_ENV.
type Providers struct {
	// Provider sets both EmbedProvider and ChatProvider; each of those wins
	// over it for its side.
	Provider      string `yaml:"provider"`
	EmbedProvider string `yaml:"embed_provider"`
	ChatProvider  string `yaml:"chat_provider"`
	// BaseURL is the openai provider's base URL (…/v1), or Cohere's.
	BaseURL string `yaml:"base_url"`
	// APIKeyEnv names the environment variable holding the key; the key
	// itself is never a setting (so it never lands in a config file).
	APIKeyEnv           string `yaml:"api_key_env"`
	AllowInsecureRemote bool   `yaml:"allow_insecure_remote"`
	// EmbedContext and ChatContext override the context lengths servers tell.
	EmbedContext int `yaml:"embed_context"`
	ChatContext  int `yaml:"chat_context"`
	// EmbedDimensions asks the openai provider for vectors of that many
	// dimensions (the request's dimensions: text-embedding-3 and other
	// Matryoshka models); 0 for the model's own. The index records it.
	EmbedDimensions int    `yaml:"embed_dimensions"`
	Rerank          Rerank `yaml:"rerank"`

	// EmbedProviderExplicit is set when the user chose the embedding
	// provider (else it is the index's own, or ollama).
	EmbedProviderExplicit bool `yaml:"-"`
}

// Rerank configures the reranker.
type Rerank struct {
	Provider   string `yaml:"provider"` // openai (the shared shape: llama-server, vLLM, Jina), tei or cohere
	BaseURL    string `yaml:"base_url"`
	Model      string `yaml:"model"`
	Candidates int    `yaml:"candidates"`
	// APIKeyEnv names the variable holding the reranker's key (default
	// RAG_RERANK_API_KEY, COHERE_API_KEY for cohere). It is the reranker's
	// own: the embedding and chat key is never sent to the reranker.
	APIKeyEnv string `yaml:"api_key_env"`
}

// ProviderKeys are the config keys of the provider settings, for rag doctor.
var ProviderKeys = []string{"embed_provider", "chat_provider", "base_url", "api_key_env", "embed_dimensions", "rerank.provider", "rerank.base_url", "rerank.model", "rerank.api_key_env"}

// CheckProvider reports a provider name rag does not know.
func CheckProvider(p string) error {
	switch p {
	case "", Ollama, OpenAI, Cohere:
		return nil
	}
	return fmt.Errorf("unknown provider %q: want ollama, openai or cohere", p)
}

// resolveProviders merges flags, environment and file for the provider
// settings, recording their sources.
func resolveProviders(flags, file Providers, getenv func(string) string, path string, src map[string]Source) (Providers, error) {
	var p Providers
	str := func(key, flagName, flag, env, fileVal string) string {
		switch {
		case flag != "":
			src[key] = Source{FromFlag, flagName}
			return flag
		case env != "" && getenv(env) != "":
			src[key] = Source{FromEnv, env}
			return getenv(env)
		case fileVal != "":
			src[key] = Source{FromFile, path}
			return fileVal
		}
		return ""
	}
	num := func(key, flagName string, flag int, env string, fileVal int) (int, error) {
		if flag != 0 {
			src[key] = Source{FromFlag, flagName}
			return flag, nil
		}
		if v := getenv(env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("%s=%q: want a whole number (0 or more)", env, v)
			}
			src[key] = Source{FromEnv, env}
			return n, nil
		}
		if fileVal != 0 {
			src[key] = Source{FromFile, path}
		}
		return fileVal, nil
	}
	both := str("provider", "--provider", flags.Provider, "RAG_PROVIDER", file.Provider)
	p.Provider = both
	p.EmbedProvider = str("embed_provider", "--embed-provider", flags.EmbedProvider, "RAG_EMBED_PROVIDER", file.EmbedProvider)
	p.ChatProvider = str("chat_provider", "--chat-provider", flags.ChatProvider, "RAG_CHAT_PROVIDER", file.ChatProvider)
	if p.EmbedProvider == "" && both != "" {
		p.EmbedProvider, src["embed_provider"] = both, src["provider"]
	}
	if p.ChatProvider == "" && both != "" {
		p.ChatProvider, src["chat_provider"] = both, src["provider"]
	}
	p.EmbedProviderExplicit = p.EmbedProvider != ""
	if p.ChatProvider == "" {
		p.ChatProvider, src["chat_provider"] = Ollama, Source{Origin: FromDefault}
	}
	for _, v := range []string{p.EmbedProvider, p.ChatProvider} {
		if err := CheckProvider(v); err != nil {
			return p, err
		}
	}
	p.BaseURL = str("base_url", "--base-url", flags.BaseURL, "OPENAI_BASE_URL", file.BaseURL)
	p.APIKeyEnv = str("api_key_env", "--api-key-env", flags.APIKeyEnv, "RAG_API_KEY_ENV", file.APIKeyEnv)
	switch v := strings.ToLower(getenv("RAG_ALLOW_INSECURE_REMOTE")); {
	case flags.AllowInsecureRemote:
		p.AllowInsecureRemote = true
	case v == "1" || v == "true" || v == "yes":
		p.AllowInsecureRemote = true
	default:
		p.AllowInsecureRemote = file.AllowInsecureRemote
	}
	var err error
	if p.EmbedContext, err = num("embed_context", "--embed-context", flags.EmbedContext, "RAG_EMBED_CONTEXT", file.EmbedContext); err != nil {
		return p, err
	}
	if p.ChatContext, err = num("chat_context", "--chat-context", flags.ChatContext, "RAG_CHAT_CONTEXT", file.ChatContext); err != nil {
		return p, err
	}
	if p.EmbedDimensions, err = num("embed_dimensions", "--embed-dimensions", flags.EmbedDimensions, "RAG_EMBED_DIMENSIONS", file.EmbedDimensions); err != nil {
		return p, err
	}
	r, fr := flags.Rerank, file.Rerank
	p.Rerank.Provider = str("rerank.provider", "--rerank-provider", r.Provider, "RAG_RERANK_PROVIDER", fr.Provider)
	p.Rerank.BaseURL = str("rerank.base_url", "--rerank-base-url", r.BaseURL, "RAG_RERANK_BASE_URL", fr.BaseURL)
	p.Rerank.Model = str("rerank.model", "--rerank-model", r.Model, "RAG_RERANK_MODEL", fr.Model)
	p.Rerank.APIKeyEnv = str("rerank.api_key_env", "--rerank-api-key-env", r.APIKeyEnv, "RAG_RERANK_API_KEY_ENV", fr.APIKeyEnv)
	if p.Rerank.Candidates, err = num("rerank.candidates", "--rerank-candidates", r.Candidates, "RAG_RERANK_CANDIDATES", fr.Candidates); err != nil {
		return p, err
	}
	switch p.Rerank.Provider {
	case "", OpenAI, Cohere, "tei":
	default:
		return p, fmt.Errorf("unknown rerank provider %q: want openai (llama-server, vLLM, Jina), tei or cohere", p.Rerank.Provider)
	}
	return p, nil
}
