package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ragcli/rag/internal/config"
	"github.com/ragcli/rag/internal/extract"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/iostreams"
	"github.com/ragcli/rag/internal/ollama"
)

// Doctor is `rag doctor --json`: the server, the models, the settings in
// force with where each came from, the index, and every problem with its fix.
type Doctor struct {
	OK     bool          `json:"ok"`
	Ollama DoctorServer  `json:"ollama"`
	Models []DoctorModel `json:"models"`
	Config DoctorConfig  `json:"config"`
	Index  DoctorIndex   `json:"index"`
	// TextGoesTo are the hosts that receive the documents' text (providers.go).
	TextGoesTo []DoctorHost `json:"text_goes_to"`
	// Tools are the optional programs extraction runs (pdftotext, and
	// pdfinfo, pdftoppm and tesseract for --ocr), found or not.
	Tools    []DoctorTool    `json:"tools"`
	Problems []DoctorProblem `json:"problems"`
}

// DoctorTool is one optional program: whether it is on PATH, what it is
// for, and the Debian packages that install it.
type DoctorTool struct {
	Name    string `json:"name"`
	Present bool   `json:"present"`
	Path    string `json:"path,omitempty"`
	For     string `json:"for"`
	Install string `json:"install"` // e.g. "apt-get install poppler-utils"
}

// DoctorServer is what rag doctor found of the Ollama server.
type DoctorServer struct {
	Host      string `json:"host"`
	Source    string `json:"source"`
	Reachable bool   `json:"reachable"`
	Version   string `json:"version,omitempty"`
}

// DoctorModel is what the server says of one model rag would use.
type DoctorModel struct {
	Role          string   `json:"role"` // "embed" or "chat"
	Name          string   `json:"name"`
	Source        string   `json:"source"`
	Checked       bool     `json:"checked"` // false when the server could not be asked
	Present       bool     `json:"present"`
	Kind          string   `json:"kind,omitempty"` // "embedding", "chat", "embedding, chat" or "unknown"
	Capabilities  []string `json:"capabilities"`
	ContextLength int      `json:"context_length,omitempty"`
	Dim           int      `json:"dim,omitempty"`
}

// DoctorConfig is the config file and every setting in force.
type DoctorConfig struct {
	File     string          `json:"file"`
	Exists   bool            `json:"exists"`
	Settings []DoctorSetting `json:"settings"`
}

// DoctorSetting is one setting's value and where it came from.
type DoctorSetting struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Origin string `json:"origin"` // flag, env, file or default
	Source string `json:"source"` // e.g. "environment RAG_INDEX", "config file /home/u/.config/rag/config.yaml"
}

// DoctorIndex summarises the index, as rag status does.
type DoctorIndex struct {
	Dir         string `json:"dir"`
	Exists      bool   `json:"exists"`
	EmbedModel  string `json:"embed_model,omitempty"`
	Dim         int    `json:"dim,omitempty"`
	ChunkTokens int    `json:"chunk_tokens,omitempty"`
	Files       int    `json:"files"`
	Chunks      int    `json:"chunks"`
	Pending     int    `json:"pending"`
	// SizeBytes is the local index's size; absent for a remote store
	// (Weaviate reports none).
	SizeBytes  *int64    `json:"size_bytes,omitempty"`
	LastIngest time.Time `json:"last_ingest,omitzero"`
	// Store is what doctor found of a remote store's server (--store);
	// absent for the local index. Dir is then the store's URL.
	Store *DoctorStore `json:"store,omitempty"`
}

// DoctorStore is what rag doctor found of a Weaviate store's server.
type DoctorStore struct {
	Engine    string `json:"engine"` // "weaviate"
	Source    string `json:"source"` // where --store came from
	Reachable bool   `json:"reachable"`
	// Auth is "ok", "missing" (the server wants a key and none is set) or
	// "refused" (it refused the key); "" when it could not be asked.
	Auth         string   `json:"auth,omitempty"`
	Version      string   `json:"version,omitempty"`
	Nodes        int      `json:"nodes"`
	NodesHealthy int      `json:"nodes_healthy"`
	Unhealthy    []string `json:"unhealthy"`
	Replication  int      `json:"replication_factor,omitempty"`
}

// DoctorProblem is one thing that keeps rag from working fully, and its fix.
type DoctorProblem struct {
	Area    string `json:"area"` // ollama, model, config, store or index
	Problem string `json:"problem"`
	Fix     string `json:"fix"`
}

// doctorError ends rag doctor with the problems it has printed.
type doctorError struct {
	problems int
	code     int
}

func (e doctorError) Error() string {
	if e.problems == 1 {
		return "rag doctor found 1 problem"
	}
	return fmt.Sprintf("rag doctor found %d problems", e.problems)
}

func (a *app) doctorCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check the Ollama server, the models, the config and the index in one go",
		Long: `Check everything rag depends on, in one go: that the Ollama server answers
(and its version), that the embedding and chat models are there and of the
right kind (with their context length and dimensions), the settings in force
and where each came from (flag, environment variable, config file or
default), and what the index holds.

With a store (--store weaviate://..., RAG_STORE, the config file's store:),
doctor checks that store instead of the local index, with one quick try and
no retries: that the server answers (and its version), its nodes and how many
are healthy, the API key (RAG_WEAVIATE_API_KEY: missing or refused), whether
the collection exists, and its model, dimensions and counts against the
configured model. The --rerank-* flags name the reranker to show, as search
--rerank would use it.

Each problem is one line with its fix. Exit 0 when all is well, 4 when the
server or a model is the problem, 1 for any other problem (a store that does
not answer, refuses the key or has unhealthy nodes included).`,
		Example: `  rag doctor
  rag doctor --json | jq -r '.problems[] | .problem + ": " + .fix'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d := a.diagnose(cmd.Context())
			if a.json {
				if err := a.writeJSON(d); err != nil {
					return err
				}
			} else {
				a.printDoctor(d)
			}
			if d.OK {
				return nil
			}
			code := ExitError
			for _, p := range d.Problems {
				if p.Area == "ollama" || p.Area == "model" {
					code = ExitOllama
				}
			}
			return doctorError{problems: len(d.Problems), code: code}
		},
	}
	c.Flags().BoolVar(&a.json, "json", false, "print the findings as JSON on stdout")
	c.Flags().StringVar(&a.global.ChatModel, "chat-model", "", "the chat model to check (default $RAG_CHAT_MODEL, else llama3.2)")
	a.rerankSettingFlags(c.Flags()) // providers.go: the reranker to show, as search --rerank would use it
	return c
}

// diagnose runs every check; a failed check is a problem, never an error.
func (a *app) diagnose(ctx context.Context) *Doctor {
	d := &Doctor{}
	problem := func(area string, err error, fix string) {
		if fix == "" {
			_, fix = explain(ctx, err)
			fix = strings.TrimSuffix(fix, "; rag doctor checks the whole setup")
		}
		d.Problems = append(d.Problems, DoctorProblem{Area: area, Problem: oneLine(iostreams.Sanitize(err.Error())), Fix: fix})
	}

	// The config file, and the settings in force.
	d.Config.File = config.File(a.getenv)
	if _, err := os.Stat(d.Config.File); err == nil {
		d.Config.Exists = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		problem("config", fmt.Errorf("config file %s: %w", d.Config.File, err), "fix its permissions, or set RAG_CONFIG to another file")
	}
	s, err := a.settings()
	if err != nil {
		problem("config", err, "fix or remove the config file "+d.Config.File)
		// Check the rest as if there were no config file.
		getenv := a.getenv
		a.getenv = func(k string) string {
			if k == "RAG_CONFIG" {
				return os.DevNull
			}
			return getenv(k)
		}
		s, err = a.settings()
		a.getenv = getenv
		if err != nil {
			d.Problems[len(d.Problems)-1].Problem += "; " + err.Error()
			return d
		}
	}

	// The index, or the store rag would use: which embedding model is in
	// force depends on it.
	d.Index = DoctorIndex{Dir: s.Index}
	var meta index.Meta
	loc, locErr := parseStore(s)
	switch {
	case locErr != nil:
		problem("config", locErr, "")
	case !loc.Local():
		meta = a.diagnoseStore(ctx, d, s, loc, problem) // doctorstore.go
	default:
		d.Index.SizeBytes = new(int64) // 0 until the index exists, as before
		if r, err := index.OpenReader(s.Index); err == nil {
			meta = r.Meta()
			st, err := r.Stats()
			r.Close()
			d.Index.Exists = true
			d.Index.EmbedModel, d.Index.Dim, d.Index.ChunkTokens, d.Index.LastIngest = meta.EmbedModel, meta.Dim, meta.ChunkTokens, meta.LastIngest
			if err != nil {
				problem("index", err, "")
			} else {
				d.Index.Files, d.Index.Chunks, d.Index.Pending, d.Index.SizeBytes = st.Files, st.Chunks, st.Pending, &st.SizeBytes
			}
		} else if !errors.Is(err, index.ErrNoIndex) {
			problem("index", fmt.Errorf("open index %s: %w", s.Index, err), "")
		}
	}
	embedModel := s.EmbedModel
	embedSource := s.Sources["embed_model"].String()
	if !s.EmbedExplicit && meta.EmbedModel != "" {
		embedModel, embedSource = meta.EmbedModel, "the index's own"
	}
	if s.EmbedExplicit && meta.EmbedModel != "" {
		if err := meta.CheckModel(d.Index.Dir, s.EmbedModel); err != nil {
			problem("config", err, "")
		}
	}
	for _, k := range config.Keys {
		v := settingValue(s, k)
		if k == "embed_model" {
			v = embedModel
		}
		src := s.Sources[k]
		desc := src.String()
		switch {
		case k == "embed_model":
			desc = embedSource
		case k == "chunk_tokens" && src.Origin == config.FromDefault:
			desc = "default"
			if meta.ChunkTokens > 0 {
				v, desc = fmt.Sprint(meta.ChunkTokens), "the index's own"
			}
		}
		d.Config.Settings = append(d.Config.Settings, DoctorSetting{Key: k, Value: v, Origin: string(src.Origin), Source: desc})
	}
	d.Config.Settings = append(d.Config.Settings, providerSettings(s)...) // providers.go

	// The optional programs; missing ones are a problem only when the
	// settings ask for OCR.
	for _, t := range extract.Tools() {
		d.Tools = append(d.Tools, DoctorTool{Name: t.Name, Present: t.Path != "", Path: t.Path, For: t.For, Install: "apt-get install " + t.Package})
	}
	if s.OCR {
		if t := extract.MissingOCRTool(); t != nil {
			problem("config", fmt.Errorf("ocr is on (%s) but %s is not on PATH", s.Sources["ocr"], t.Name),
				"install it (Debian: apt-get install "+t.Package+"), or turn ocr off")
		}
	}

	// The server. Where the text goes is said even when OLLAMA_HOST is unusable.
	d.TextGoesTo = a.textHosts(s, embedModel, s.OllamaHost)
	c, err := a.client(s)
	if err != nil {
		problem("ollama", err, "")
		d.OK = len(d.Problems) == 0
		return d
	}
	d.Ollama = DoctorServer{Host: c.Host(), Source: s.Sources["ollama_host"].String()}
	if v, err := c.Version(ctx); err != nil {
		problem("ollama", err, "")
	} else {
		d.Ollama.Reachable, d.Ollama.Version = true, v
	}

	// The models.
	models := []DoctorModel{
		{Role: "embed", Name: embedModel, Source: embedSource},
		{Role: "chat", Name: s.ChatModel, Source: s.Sources["chat_model"].String()},
	}
	d.TextGoesTo = a.textHosts(s, embedModel, c.Host())
	for i := range models {
		m := &models[i]
		if !d.Ollama.Reachable || !usesOllama(s, m.Role, m.Name) {
			continue
		}
		m.Checked = true
		info, err := c.Show(ctx, m.Name)
		if err != nil {
			problem("model", err, "")
			continue
		}
		m.Present = true
		m.Capabilities, m.ContextLength = info.Capabilities, info.ContextLength
		if m.Role == "embed" { // a chat model's embedding length is its hidden size
			m.Dim = info.EmbeddingDim
		}
		m.Kind = modelKind(info)
		want := ollama.CapCompletion
		if m.Role == "embed" {
			want = ollama.CapEmbedding
		}
		if err := info.Require(m.Name, want); err != nil {
			problem("model", err, "")
		} else if m.Role == "embed" && meta.Dim > 0 && info.EmbeddingDim > 0 && info.EmbeddingDim != meta.Dim {
			problem("model", fmt.Errorf("%s gives %d dimensions, the index holds %d", m.Name, info.EmbeddingDim, meta.Dim),
				"rebuild the index for it: rag reindex --embed-model "+m.Name)
		}
	}
	d.Models = models

	if d.Index.Exists && d.Index.Pending > 0 {
		fix := "run rag ingest with Ollama up to embed them"
		if !d.Ollama.Reachable {
			fix = "start Ollama, then run rag ingest to embed them"
		}
		problem("index", fmt.Errorf("%d chunks are not embedded yet: search uses their words only", d.Index.Pending), fix)
	}
	d.OK = len(d.Problems) == 0
	return d
}

func settingValue(s config.Settings, key string) string {
	switch key {
	case "index":
		return s.Index
	case "embed_model":
		return s.EmbedModel
	case "chat_model":
		return s.ChatModel
	case "ollama_host":
		return s.OllamaHost
	case "store":
		return cmpStr(redactStore(s.Store), "local")
	case "ocr":
		return fmt.Sprint(s.OCR)
	case "chunk_tokens":
		if s.ChunkTokens == 0 {
			return fmt.Sprint(config.DefaultChunkTokens)
		}
		return fmt.Sprint(s.ChunkTokens)
	}
	return ""
}

// modelKind names what a model does from the capabilities the server lists.
func modelKind(info ollama.ModelInfo) string {
	var kinds []string
	if slices.Contains(info.Capabilities, ollama.CapEmbedding) {
		kinds = append(kinds, "embedding")
	}
	if slices.Contains(info.Capabilities, ollama.CapCompletion) {
		kinds = append(kinds, "chat")
	}
	if len(kinds) == 0 {
		return "unknown"
	}
	return strings.Join(kinds, ", ")
}

func (a *app) printDoctor(d *Doctor) {
	w := tabwriter.NewWriter(a.s.Out, 0, 0, 2, ' ', 0)
	san := iostreams.Sanitize
	switch {
	case d.Ollama.Host == "":
	case d.Ollama.Reachable:
		fmt.Fprintf(w, "ollama:\t%s (%s): ok, version %s\n", san(d.Ollama.Host), d.Ollama.Source, san(d.Ollama.Version))
	default:
		fmt.Fprintf(w, "ollama:\t%s (%s): unreachable\n", san(d.Ollama.Host), d.Ollama.Source)
	}
	for _, h := range d.TextGoesTo {
		where := "this machine"
		if h.Remote {
			where = "ANOTHER MACHINE"
		}
		fmt.Fprintf(w, "text to:\t%s %s (%s)\n", h.Role, san(h.Host), where)
	}
	for _, m := range d.Models {
		var what string
		switch {
		case !m.Checked:
			what = "not checked"
		case !m.Present:
			what = "missing"
		default:
			what = m.Kind
			if m.Dim > 0 {
				what += fmt.Sprintf(", %d dimensions", m.Dim)
			}
			if m.ContextLength > 0 {
				what += fmt.Sprintf(", context %d tokens", m.ContextLength)
			}
		}
		fmt.Fprintf(w, "%s model:\t%s (%s): %s\n", m.Role, san(m.Name), san(m.Source), what)
	}
	if st := d.Index.Store; st != nil {
		switch {
		case !st.Reachable:
			fmt.Fprintf(w, "store:\t%s (%s): unreachable\n", san(d.Index.Dir), st.Source)
		case st.Auth == "missing" || st.Auth == "refused":
			fmt.Fprintf(w, "store:\t%s (%s): the API key is %s\n", san(d.Index.Dir), st.Source, st.Auth)
		default:
			nodes := fmt.Sprintf("%d of %d nodes healthy", st.NodesHealthy, st.Nodes)
			if len(st.Unhealthy) > 0 {
				nodes += " (" + san(strings.Join(st.Unhealthy, ", ")) + ")"
			}
			repl := ""
			if st.Replication > 0 {
				repl = fmt.Sprintf(", replication factor %d", st.Replication)
			}
			fmt.Fprintf(w, "store:\t%s (%s): ok, weaviate %s, %s%s\n", san(d.Index.Dir), st.Source, san(st.Version), nodes, repl)
		}
	}
	size := "size not reported by Weaviate"
	if d.Index.SizeBytes != nil {
		size = humanBytes(*d.Index.SizeBytes)
	}
	switch {
	case d.Index.Exists:
		last := "never"
		if !d.Index.LastIngest.IsZero() {
			last = d.Index.LastIngest.Local().Format(time.DateTime)
		}
		fmt.Fprintf(w, "index:\t%s: %d files, %d chunks (%d pending), %s, %s %d dimensions, last ingest %s\n",
			san(d.Index.Dir), d.Index.Files, d.Index.Chunks, d.Index.Pending, size, san(d.Index.EmbedModel), d.Index.Dim, last)
	case d.Index.Store != nil && !(d.Index.Store.Reachable && d.Index.Store.Auth == "ok"):
		fmt.Fprintf(w, "index:\t%s: not checked (the store did not answer)\n", san(d.Index.Dir))
	case d.Index.Store != nil:
		fmt.Fprintf(w, "index:\t%s: none yet (create it with: rag --store %s ingest PATH...)\n", san(d.Index.Dir), san(d.Index.Dir))
	default:
		fmt.Fprintf(w, "index:\t%s: none yet (create it with: rag ingest PATH...)\n", san(d.Index.Dir))
	}
	present := "present"
	if !d.Config.Exists {
		present = "not present"
	}
	for _, t := range d.Tools {
		if t.Present {
			fmt.Fprintf(w, "tool:\t%s: %s, for %s\n", t.Name, san(t.Path), t.For)
		} else {
			fmt.Fprintf(w, "tool:\t%s: not found, for %s (%s)\n", t.Name, t.For, t.Install)
		}
	}
	fmt.Fprintf(w, "config:\t%s (%s)\n", san(d.Config.File), present)
	w.Flush()
	w = tabwriter.NewWriter(a.s.Out, 0, 0, 2, ' ', 0)
	for _, st := range d.Config.Settings {
		v := st.Value
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\n", st.Key, san(v), san(st.Source))
	}
	w.Flush()
	if d.OK {
		fmt.Fprintln(a.s.Out, "status: ok")
		return
	}
	for _, p := range d.Problems {
		fmt.Fprintf(a.s.Out, "problem: %s; fix: %s\n", p.Problem, p.Fix)
	}
}
