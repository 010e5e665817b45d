package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"

	"github.com/ragcli/rag/internal/cohere"
	"github.com/ragcli/rag/internal/config"
	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/eval"
	"github.com/ragcli/rag/internal/llm"
	"github.com/ragcli/rag/internal/ollama"
	"github.com/ragcli/rag/internal/openai"
	"github.com/ragcli/rag/internal/provider"
	"github.com/ragcli/rag/internal/rerank"
	"github.com/ragcli/rag/internal/retrieve"
)

// providerFlags are the model-server flags every command takes.
func (a *app) providerFlags(pf *pflag.FlagSet) {
	g := &a.global.Providers
	pf.StringVar(&g.Provider, "provider", "", "model provider for embedding and chat: ollama (default), openai (any OpenAI-compatible server) or cohere")
	pf.StringVar(&g.EmbedProvider, "embed-provider", "", "provider of the embedding model (default --provider, the index's own, else ollama)")
	pf.StringVar(&g.ChatProvider, "chat-provider", "", "provider of the chat model (default --provider, else ollama)")
	pf.StringVar(&g.BaseURL, "base-url", "", "base URL of the openai provider, e.g. http://127.0.0.1:8080/v1 (default $OPENAI_BASE_URL)")
	pf.StringVar(&g.APIKeyEnv, "api-key-env", "", "environment variable that holds the API key (default OPENAI_API_KEY or COHERE_API_KEY)")
	pf.BoolVar(&g.AllowInsecureRemote, "allow-insecure-remote", false, "allow an API key over plain HTTP to a host other than this machine")
	pf.IntVar(&g.EmbedContext, "embed-context", 0, "context length of the embedding model in tokens, when its server does not tell it (openai default 512)")
	pf.IntVar(&g.EmbedDimensions, "embed-dimensions", 0, "with --embed-provider openai: ask for vectors of N dimensions (text-embedding-3 and other Matryoshka models); the index records it")
	pf.IntVar(&g.ChatContext, "chat-context", 0, "context length of the chat model in tokens, when its server does not tell it (openai default 4096)")
}

// rerankOptions are a question's reranking flags.
type rerankOptions struct {
	on      bool
	timeout time.Duration
	used    *rerankAdapter // the last session's reranker
}

func (a *app) rerankFlags(f *pflag.FlagSet, o *rerankOptions) {
	f.BoolVar(&o.on, "rerank", false, "rerank the best fused candidates with a reranking model before the top k are cut")
	a.rerankSettingFlags(f)
	f.DurationVar(&o.timeout, "rerank-timeout", rerank.DefaultTimeout, "longest wait for the reranker; past it the fused order stands")
}

// rerankSettingFlags are the flags that say which reranker to use (rag
// doctor shows it without running one).
func (a *app) rerankSettingFlags(f *pflag.FlagSet) {
	r := &a.global.Rerank
	f.StringVar(&r.Provider, "rerank-provider", "", "reranker API: openai (llama-server, vLLM, Jina: POST BASE/rerank), tei, or cohere (default $RAG_RERANK_PROVIDER, the config file, else openai)")
	f.StringVar(&r.BaseURL, "rerank-base-url", "", "reranker base URL, e.g. http://127.0.0.1:8081/v1 (default $RAG_RERANK_BASE_URL)")
	f.StringVar(&r.Model, "rerank-model", "", "reranking model (default $RAG_RERANK_MODEL)")
	f.StringVar(&r.APIKeyEnv, "rerank-api-key-env", "", "environment variable that holds the reranker's API key (default RAG_RERANK_API_KEY, COHERE_API_KEY for cohere); sent to the reranker alone")
	f.IntVar(&r.Candidates, "rerank-candidates", 0, "fused candidates the reranker sees (default 40)")
}

// modelID is the embedding model as the index records it: an Ollama model
// by its name, another provider's as "provider:name", so that switching
// provider is refused as switching model is.
func modelID(prov, model string) string {
	if prov == "" || prov == config.Ollama {
		return model
	}
	return prov + ":" + model
}

// withDimensions records the dimensions an openai embedding model was asked
// for in its name ("text-embedding-3-small@256"), so that queries ask for the
// same and another count is refused as another model is.
func withDimensions(model string, dims int) string {
	if dims <= 0 {
		return model
	}
	return fmt.Sprintf("%s@%d", model, dims)
}

// splitDimensions undoes withDimensions; 0 when the name records none.
func splitDimensions(model string) (string, int) {
	i := strings.LastIndexByte(model, '@')
	if i < 0 {
		return model, 0
	}
	n, err := strconv.Atoi(model[i+1:])
	if err != nil || n <= 0 {
		return model, 0
	}
	return model[:i], n
}

// splitModelID undoes modelID.
func splitModelID(id string) (prov, model string) {
	for _, p := range []string{config.OpenAI, config.Cohere} {
		if m, ok := strings.CutPrefix(id, p+":"); ok {
			return p, m
		}
	}
	return config.Ollama, id
}

// defaultEmbedModel is each provider's embedding model when none is named.
var defaultEmbedModel = map[string]string{config.OpenAI: "text-embedding-3-small", config.Cohere: "embed-english-v3.0"}

// qualifyEmbedModel records the embedding provider in s.EmbedModel. A
// provider the user chose makes the model explicit: an index built with
// another one is then refused with the reindex hint.
func qualifyEmbedModel(s *config.Settings) error {
	p := s.EmbedProvider
	if s.EmbedDimensions > 0 && p != config.OpenAI {
		return withHint(usagef("--embed-dimensions goes with the openai embedding provider"), "add --embed-provider openai (or --provider openai), or drop --embed-dimensions")
	}
	if !s.EmbedProviderExplicit || p == config.Ollama {
		return nil
	}
	if !s.EmbedExplicit {
		s.EmbedModel = defaultEmbedModel[p]
	}
	if prov, _ := splitModelID(s.EmbedModel); prov == config.Ollama {
		s.EmbedModel = modelID(p, s.EmbedModel)
	}
	if s.EmbedDimensions > 0 {
		base, _ := splitDimensions(s.EmbedModel)
		s.EmbedModel = withDimensions(base, s.EmbedDimensions)
	}
	s.EmbedExplicit = true
	return nil
}

// apiKey reads the key of prov from the variable the settings name.
func (a *app) apiKey(s config.Settings, prov string) provider.Key {
	env := s.APIKeyEnv
	if env == "" {
		env = map[string]string{config.OpenAI: "OPENAI_API_KEY", config.Cohere: "COHERE_API_KEY"}[prov]
	}
	return provider.NewKey(a.getenv(env), env)
}

// openaiClient is the client of the openai provider.
func (a *app) openaiClient(s config.Settings) (*openai.Client, error) {
	return a.openaiEmbedClient(s, 0)
}

// openaiEmbedClient is openaiClient asking for dims dimensions (0: the model's own).
func (a *app) openaiEmbedClient(s config.Settings, dims int) (*openai.Client, error) {
	if s.BaseURL == "" {
		return nil, withHint(usagef("the openai provider needs a base URL"),
			"give --base-url (or OPENAI_BASE_URL): https://api.openai.com/v1 for OpenAI, or your server's, such as http://127.0.0.1:8080/v1")
	}
	return openai.New(openai.Options{BaseURL: s.BaseURL, Key: a.apiKey(s, config.OpenAI), AllowInsecure: s.AllowInsecureRemote,
		EmbedContext: s.EmbedContext, ChatContext: s.ChatContext, Dimensions: dims})
}

// cohereClient is the client of the cohere provider: its own host, unless
// --base-url points elsewhere and no side uses the openai provider.
func (a *app) cohereClient(s config.Settings) (*cohere.Client, error) {
	key := a.apiKey(s, config.Cohere)
	if !key.Set() {
		return nil, withHint(usagef("the cohere provider needs an API key"), "set %s (or name another variable with --api-key-env)", key.Env)
	}
	base := ""
	if s.EmbedProvider != config.OpenAI && s.ChatProvider != config.OpenAI && s.Rerank.Provider != config.OpenAI {
		base = s.BaseURL
	}
	return cohere.New(cohere.Options{BaseURL: base, Key: key, AllowInsecure: s.AllowInsecureRemote})
}

// embedders returns the embedder of an index's model (as modelID records
// it), for documents or for queries, and the model's context length.
type embedders func(ctx context.Context, id string, query bool) (embed.Embedder, int, error)

// embeddersFor builds embedders for the settings; c is the Ollama client.
func (a *app) embeddersFor(s config.Settings, c *ollama.Client, pull bool) embedders {
	return func(ctx context.Context, id string, query bool) (embed.Embedder, int, error) {
		prov, model := splitModelID(id)
		switch prov {
		case config.OpenAI:
			name, dims := splitDimensions(model)
			cl, err := a.openaiEmbedClient(s, dims)
			if err != nil {
				return nil, 0, err
			}
			model = name
			n := cmp.Or(s.EmbedContext, openai.DefaultEmbedContext)
			if !query {
				n, _ = cl.ContextLength(ctx, model, true)
			}
			return idEmbedder{openai.NewEmbedder(cl, model, n), id}, n, nil
		case config.Cohere:
			cl, err := a.cohereClient(s)
			if err != nil {
				return nil, 0, err
			}
			typ, n := cohere.SearchDocument, cmp.Or(s.EmbedContext, cohere.DefaultContext)
			if query {
				typ = cohere.SearchQuery
			} else if s.EmbedContext == 0 {
				n = cl.ContextLength(ctx, model)
			}
			return idEmbedder{&cohere.Embedder{Client: cl, Name: model, InputType: typ, ContextLength: n}, id}, n, nil
		}
		if c == nil {
			return nil, 0, embed.ErrUnavailable
		}
		if query {
			return &ollama.Embedder{Client: c, Name: model}, 0, nil
		}
		info, err := a.embedModel(ctx, c, model, pull)
		if err != nil {
			return nil, 0, err
		}
		return &ollama.Embedder{Client: c, Name: model}, info.ContextLength, nil
	}
}

// idEmbedder names its model as the index records it.
type idEmbedder struct {
	embed.Embedder
	id string
}

func (e idEmbedder) Model() string { return e.id }

// chatFor returns the chat client of the settings and the chat model's
// context length (in an ollama.ModelInfo, as ask and --deep take it).
func (a *app) chatFor(ctx context.Context, s config.Settings, c *ollama.Client, pull bool) (llm.Client, ollama.ModelInfo, error) {
	cl, err := a.remoteChat(s)
	if err != nil {
		return nil, ollama.ModelInfo{}, err
	}
	if cl != nil {
		n, _ := cl.ContextLength(ctx, s.ChatModel, false)
		return cl, ollama.ModelInfo{ContextLength: n}, nil
	}
	info, err := a.chatModel(ctx, c, s.ChatModel, pull)
	return c, info, err
}

// remoteChat returns the OpenAI-compatible client that answers for the
// openai and cohere chat providers; nil for Ollama's.
func (a *app) remoteChat(s config.Settings) (*openai.Client, error) {
	switch s.ChatProvider {
	case config.OpenAI:
		return a.openaiClient(s)
	case config.Cohere:
		co, err := a.cohereClient(s)
		if err != nil {
			return nil, err
		}
		return co.Chat(openai.Options{ChatContext: s.ChatContext})
	}
	return nil, nil
}

// serverChat returns the chat client of the settings for a long-lived
// server (rag serve, rag mcp, rag chat), without calling it: a chat server
// that is down at start only fails the questions asked while it is. The
// function it returns gives the chat model's context length, as chatFor
// does, asked once when a question first needs it (a failure is asked again
// by the next question).
func (a *app) serverChat(s config.Settings, c *ollama.Client) (llm.Client, func(context.Context) (int, error), error) {
	cl, err := a.remoteChat(s)
	if err != nil {
		return nil, nil, err
	}
	var chat llm.Client = c
	ask := func(ctx context.Context) (int, error) {
		info, err := c.Show(ctx, s.ChatModel)
		return info.ContextLength, err
	}
	if cl != nil {
		chat = cl
		ask = func(ctx context.Context) (int, error) {
			n, _ := cl.ContextLength(ctx, s.ChatModel, false)
			return n, nil
		}
	}
	var (
		mu    sync.Mutex
		n     int
		known bool
	)
	return chat, func(ctx context.Context) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		if !known {
			v, err := ask(ctx)
			if err != nil {
				return 0, err
			}
			n, known = v, true
		}
		return n, nil
	}, nil
}

// rerankerFor returns the reranker the settings and flags ask for, nil
// without --rerank.
func (a *app) rerankerFor(s config.Settings, o rerankOptions) (retrieve.Reranker, error) {
	if !o.on {
		return nil, nil
	}
	r := s.Rerank
	key := a.rerankKey(r)
	ro := rerank.Options{Model: r.Model, Timeout: o.timeout, Key: key, AllowInsecure: s.AllowInsecureRemote}
	switch r.Provider {
	case config.Cohere:
		if !key.Set() {
			return nil, withHint(usagef("the cohere reranker needs an API key"), "set %s (or name another variable with --rerank-api-key-env)", key.Env)
		}
		ro.URL = strings.TrimRight(cmp.Or(r.BaseURL, cohere.DefaultBaseURL), "/") + "/v2/rerank"
		ro.Model = cmp.Or(ro.Model, "rerank-v3.5")
	default:
		if r.BaseURL == "" {
			return nil, withHint(usagef("--rerank needs the reranker's URL"),
				"give --rerank-base-url (or config rerank: {base_url: ...}), such as http://127.0.0.1:8081/v1 for llama-server --reranking")
		}
		ro.URL = strings.TrimRight(r.BaseURL, "/") + "/rerank"
		if r.Provider == "tei" {
			ro.Shape = rerank.TEI
		}
	}
	c, err := rerank.New(ro)
	if err != nil {
		return nil, err
	}
	return &rerankAdapter{r: c}, nil
}

// rerankKey reads the reranker's key. It is the reranker's own
// (--rerank-api-key-env, else RAG_RERANK_API_KEY, else COHERE_API_KEY for
// cohere), never the embedding and chat key, so that a hosted provider's key
// does not travel to a reranker on another host. Most local rerankers want
// none: an unset variable sends no key.
func (a *app) rerankKey(r config.Rerank) provider.Key {
	env := r.APIKeyEnv
	if env == "" {
		env = "RAG_RERANK_API_KEY"
		if r.Provider == config.Cohere {
			env = "COHERE_API_KEY"
		}
	}
	return provider.NewKey(a.getenv(env), env)
}

// rerankCandidates is --rerank-candidates, or its default.
func rerankCandidates(s config.Settings) int {
	return cmp.Or(s.Rerank.Candidates, rerank.DefaultCandidates)
}

// rerankAdapter puts a rerank.Reranker in front of a retrieve.Session,
// counting its calls and failures (for eval's report).
type rerankAdapter struct {
	r             rerank.Reranker
	calls, failed atomic.Int64
	lastErr       atomic.Value // error
}

func (ra *rerankAdapter) Rerank(ctx context.Context, query string, cands []retrieve.Result) ([]retrieve.Result, error) {
	ra.calls.Add(1)
	out, err := rerank.Apply(ctx, ra.r, query, cands, func(r retrieve.Result) string { return r.Text }, len(cands))
	if err != nil {
		ra.failed.Add(1)
		ra.lastErr.Store(err)
		return cands, err
	}
	res := make([]retrieve.Result, len(out))
	for i, sc := range out {
		res[i] = sc.Item
		if sc.Reranked {
			res[i].Rerank = &retrieve.Leg{Rank: i + 1, Score: sc.Score}
			res[i].Score = sc.Score
		}
	}
	return res, nil
}

// warnRerank tells that the reranker was left out; the run is then partial.
// A rejected key gets a hint naming its variable, so that it does not read
// as a reranker that is down.
func (a *app) warnRerank(err error) bool {
	if err == nil {
		return false
	}
	fmt.Fprintf(a.s.Err, "rag: warning: %s; results keep the fused order\n", firstLine(err.Error()))
	if hint := rerankHint(err); hint != "" {
		fmt.Fprintf(a.s.Err, "rag: hint: %s\n", hint)
	}
	return true
}

// hintedReranker adds rerankHint to a failure, for the long-lived servers
// whose only word to the user is the warning a result carries.
type hintedReranker struct{ retrieve.Reranker }

func (h hintedReranker) Rerank(ctx context.Context, query string, cands []retrieve.Result) ([]retrieve.Result, error) {
	out, err := h.Reranker.Rerank(ctx, query, cands)
	if hint := rerankHint(err); hint != "" {
		err = fmt.Errorf("%w (hint: %s)", err, hint)
	}
	return out, err
}

// rerankHint is what to fix when the reranker refused the key or has no
// such model; "" for a reranker that is down or slow.
func rerankHint(err error) string {
	if ae, ok := errors.AsType[*provider.AuthError](err); ok {
		if !ae.Sent {
			return fmt.Sprintf("the reranker wants an API key: set $%s (or name another variable with --rerank-api-key-env NAME)", ae.KeyEnv)
		}
		return fmt.Sprintf("check the API key in $%s: the reranker refused it (--rerank-api-key-env names another variable)", ae.KeyEnv)
	}
	if me, ok := errors.AsType[*provider.ModelMissingError](err); ok {
		if me.Model == "" {
			return "name the reranking model with --rerank-model (or config rerank: {model: ...})"
		}
		return fmt.Sprintf("check --rerank-model %q: the reranker has no such model", me.Model)
	}
	return ""
}

// providerExit is the exit code and hint of a model server's refusal: a
// rejected key or a missing model exit 4, a key refused over plain HTTP is a
// usage error.
func providerExit(err error, hint string) (int, string) {
	if ae, ok := errors.AsType[*provider.AuthError](err); ok {
		switch {
		case !ae.Sent && ae.KeyEnv == "":
			// Only Ollama has no key variable: rag sends it no credentials.
			return ExitOllama, cmpStr(hint, "rag sends Ollama no credentials: point OLLAMA_HOST at the server itself, or reach it with --provider openai --base-url URL/v1 and its key in a variable named by --api-key-env NAME")
		case !ae.Sent:
			return ExitOllama, cmpStr(hint, fmt.Sprintf("the server wants an API key: set $%s (or name another variable with --api-key-env NAME)", ae.KeyEnv))
		}
		return ExitOllama, cmpStr(hint, fmt.Sprintf("check the API key in $%s: %s refused it", ae.KeyEnv, ae.Host))
	}
	if me, ok := errors.AsType[*provider.ModelMissingError](err); ok {
		return ExitOllama, cmpStr(hint, fmt.Sprintf("check the model name %q: GET %s/models lists what the server has", me.Model, me.Host))
	}
	return ExitUsage, cmpStr(hint, "use an https:// URL, or pass --allow-insecure-remote to send the key in clear text")
}

// evalReranked runs eval's queries again through the reranker. It returns
// nil, after a warning, when the reranker failed on any query: metrics that
// mix reranked and fused rankings would be neither.
func (a *app) evalReranked(ctx context.Context, s config.Settings, c *ollama.Client, mode retrieve.Mode, o evalOptions, coll *eval.Collection, docOf func(string) (string, bool)) (*eval.Result, error) {
	sess, err := a.openSession(ctx, s, c, mode, false, o.embedTimeout)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	p := a.progress()
	res, err := eval.Run(ctx, sess, coll, docOf, func(i, n int, text string) { p.Update("[%d/%d queries, reranked] %s", i+1, n, text) })
	p.Done()
	if err != nil {
		return nil, err
	}
	if ra := a.rerank.used; ra != nil {
		if n := ra.failed.Load(); n > 0 {
			last, _ := ra.lastErr.Load().(error)
			fmt.Fprintf(a.s.Err, "rag: warning: the reranker failed on %d of %d queries (%s); no reranked metrics are reported\n", n, ra.calls.Load(), firstLine(fmt.Sprint(last)))
			if hint := rerankHint(last); hint != "" {
				fmt.Fprintf(a.s.Err, "rag: hint: %s\n", hint)
			}
			return nil, nil
		}
	}
	return res, nil
}

// DoctorHost is a host that receives the documents' text, for rag doctor.
type DoctorHost struct {
	Role   string `json:"role"` // "embed", "chat" or "rerank"
	Host   string `json:"host"`
	Remote bool   `json:"remote"` // not this machine
}

// textHosts lists where the documents' text goes: the embedding server
// (index model embedModel), the chat server, and the reranker.
func (a *app) textHosts(s config.Settings, embedModel, ollamaHost string) []DoctorHost {
	hostOf := func(prov string) string {
		switch prov {
		case config.OpenAI:
			return s.BaseURL // "" when not configured: the provider then fails
		case config.Cohere:
			if s.EmbedProvider != config.OpenAI && s.ChatProvider != config.OpenAI && s.BaseURL != "" {
				return s.BaseURL
			}
			return cohere.DefaultBaseURL
		}
		return ollamaHost
	}
	embedProv, _ := splitModelID(embedModel)
	out := []DoctorHost{{Role: "embed", Host: hostOf(embedProv)}, {Role: "chat", Host: hostOf(s.ChatProvider)}}
	if r := s.Rerank; r.BaseURL != "" || r.Provider == config.Cohere {
		out = append(out, DoctorHost{Role: "rerank", Host: cmp.Or(r.BaseURL, cohere.DefaultBaseURL)})
	}
	for i := range out {
		if u, err := url.Parse(out[i].Host); err == nil && u.Host != "" {
			out[i].Remote = !provider.Loopback(u.Hostname())
		}
	}
	return out
}

// providerSettings are the model-server settings that are set, for rag
// doctor: providers, URLs and the names of the key variables (never a key).
func providerSettings(s config.Settings) []DoctorSetting {
	value := map[string]string{
		"embed_provider": s.EmbedProvider, "chat_provider": s.ChatProvider, "base_url": s.BaseURL, "api_key_env": s.APIKeyEnv,
		"embed_dimensions": strconv.Itoa(s.EmbedDimensions),
		"rerank.provider":  s.Rerank.Provider, "rerank.base_url": s.Rerank.BaseURL, "rerank.model": s.Rerank.Model, "rerank.api_key_env": s.Rerank.APIKeyEnv,
	}
	var out []DoctorSetting
	for _, k := range config.ProviderKeys {
		src, ok := s.Sources[k]
		if !ok || src.Origin == config.FromDefault {
			continue
		}
		out = append(out, DoctorSetting{Key: k, Value: value[k], Origin: string(src.Origin), Source: src.String()})
	}
	return out
}

// usesOllama reports whether rag doctor should ask Ollama about a model.
func usesOllama(s config.Settings, role, model string) bool {
	if role == "embed" {
		p, _ := splitModelID(model)
		return p == config.Ollama
	}
	return s.ChatProvider == config.Ollama
}
