// Package cli holds rag's commands. Each command parses its flags into an
// options struct and calls one function of a domain package; this package
// owns everything a person sees: output formats, progress, errors and exit
// codes. Nothing here calls os.Exit: Main returns the code.
package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ragcli/rag/internal/config"
	"github.com/ragcli/rag/internal/iostreams"
)

// Version is set at build time with -ldflags "-X github.com/ragcli/rag/internal/cli.Version=v1.2.3".
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// app is what every command shares.
type app struct {
	s      *iostreams.Streams
	getenv func(string) string
	global config.Settings // flags shared by all commands
	json   bool            // the running command's --json
	rerank rerankOptions   // the running question's --rerank flags
	quiet  bool            // --quiet: no progress or summaries on stderr
	// ran is set once a command's RunE starts: cobra's own command-line
	// errors (unknown command or flag, wrong number of arguments) all come
	// before it.
	ran bool
	// wroteJSON is set once a --json command has printed its document, so a
	// failure after that adds no second document to stdout.
	wroteJSON bool
}

// settings resolves the global flags against the environment and config file.
func (a *app) settings() (config.Settings, error) {
	s, err := config.Resolve(a.global, a.getenv)
	if err != nil {
		return s, withHint(err, "fix or remove the config file %s", config.File(a.getenv))
	}
	if abs, err := filepath.Abs(s.Index); err == nil {
		s.Index = abs // reports name the index the same way from any folder
	}
	return s, qualifyEmbedModel(&s) // providers.go
}

// Main runs rag with args and returns the process exit code.
func Main(ctx context.Context, args []string, s *iostreams.Streams, getenv func(string) string) (code int) {
	a := &app{s: s, getenv: getenv}
	if p := getenv("RAG_CPUPROFILE"); p != "" { // for performance work; see docs/design.md
		if f, err := os.Create(p); err == nil {
			pprof.StartCPUProfile(f)
			defer func() { pprof.StopCPUProfile(); f.Close() }()
		}
	}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	defer func() {
		if r := recover(); r != nil {
			// A bug, not the user's fault: say so in one line, never a trace.
			code = report(ctx, s, withHint(errors.New("internal error: "+strings.TrimSpace(toString(r))),
				"please report this at the project's issue tracker with the command you ran"), a.json)
		}
	}()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	if !isUsage(err, a.ran) {
		return report(ctx, s, err, a.json && !a.wroteJSON)
	}
	// Flag parsing may have stopped before reaching --json.
	return report(ctx, s, usageError{err}, (a.json || slices.Contains(args, "--json")) && !a.wroteJSON)
}

func toString(v any) string {
	if e, ok := v.(error); ok {
		return e.Error()
	}
	if s, ok := v.(string); ok {
		return s
	}
	return "panic"
}

// isUsage tells a bad command line from a command's failure, by type: a
// command marks its usage errors as usageError, and every error cobra returns
// before a command runs (unknown command, wrong arguments) is one. An error's
// text is never consulted: the OS error EINVAL also reads "invalid argument".
func isUsage(err error, ran bool) bool {
	_, ok := errors.AsType[usageError](err)
	return ok || !ran
}

// markRun wraps the RunE of c and of every command below it to set a.ran.
func (a *app) markRun(c *cobra.Command) {
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			a.ran = true
			return run(cmd, args)
		}
	}
	for _, sub := range c.Commands() {
		a.markRun(sub)
	}
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "rag",
		Short: "Ask questions about your own documents, answered by a local model",
		Long: `rag indexes folders of Markdown, text, HTML, PDF, DOCX and source code, and answers
questions about them with a local model served by Ollama, citing its sources.

  rag ingest ~/notes ~/papers     index (and later refresh) folders
  rag search "query"              the best matching passages
  rag ask "question"              an answer with numbered sources

The index lives in $XDG_DATA_HOME/rag/index (~/.local/share/rag/index); pick
another with --index or RAG_INDEX. Models come from --embed-model/--chat-model,
RAG_EMBED_MODEL/RAG_CHAT_MODEL, the config file (~/.config/rag/config.yaml),
then all-minilm and llama3.2. OLLAMA_HOST picks the Ollama server.

` + exitTable,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
	}
	root.SetVersionTemplate("rag {{.Version}}\n")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.global.Index, "index", "", "index folder (default $RAG_INDEX, else ~/.local/share/rag/index)")
	pf.StringVar(&a.global.Store, "store", "", "where the index lives: empty for the local --index folder, or weaviate://HOST:PORT[/COLLECTION] (weaviates:// for https; API key from $RAG_WEAVIATE_API_KEY) (default $RAG_STORE)")
	pf.StringVar(&a.global.EmbedModel, "embed-model", "", "Ollama embedding model (default $RAG_EMBED_MODEL, the index's model, else all-minilm)")
	pf.BoolVarP(&a.quiet, "quiet", "q", false, "print no progress or summary on stderr (errors still are)")
	pf.StringVar(&a.global.OllamaHost, "ollama-host", "", "Ollama server URL (default $OLLAMA_HOST, else http://127.0.0.1:11434)")
	a.providerFlags(pf) // providers.go
	root.AddCommand(a.ingestCmd(), a.searchCmd(), a.askCmd(), a.statusCmd(), a.checkCmd(), a.reindexCmd(), a.forgetCmd(), a.evalCmd(), a.similarCmd(), a.versionCmd(), a.extractChildCmd())
	root.AddCommand(a.mcpCmd(), a.serveCmd(), a.watchCmd()) // the long-lived server commands (internal/server)
	root.AddCommand(a.chatCmd())                            // a conversation over the index (internal/chat)
	root.AddCommand(a.lsCmd(), a.doctorCmd())               // what the index holds, and what rag depends on
	root.AddCommand(a.auditCmd(), a.exportCmd())            // knowledge: the data's health (internal/audit), fine-tuning data (internal/finetune)
	root.AddCommand(a.migrateCmd())                         // copy the index into another store (internal/store)
	root.CompletionOptions.HiddenDefaultCmd = true
	a.markRun(root)
	return root
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print rag's version",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			c.Printf("rag %s\n", version())
			return nil
		},
	}
}
