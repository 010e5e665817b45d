package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/ingest"
	"github.com/ragcli/rag/internal/iostreams"
	"github.com/ragcli/rag/internal/ollama"
	"github.com/ragcli/rag/internal/provider"
	"github.com/ragcli/rag/internal/retrieve"
	"github.com/ragcli/rag/internal/store"
	"github.com/ragcli/rag/internal/weaviate"
)

// Exit codes: one table, shown in --help and the README, produced by exitCode.
const (
	ExitOK          = 0   // success
	ExitError       = 1   // any other error
	ExitUsage       = 2   // bad command line
	ExitPartial     = 3   // done, but some files failed
	ExitOllama      = 4   // Ollama unreachable, or a model missing
	ExitLocked      = 5   // another rag is writing the index
	ExitDamaged     = 6   // rag check found problems
	ExitInterrupted = 130 // interrupted (Ctrl-C, SIGTERM)
)

const exitTable = `Exit codes:
  0    success
  1    error (rag doctor: a problem other than the server or a model)
  2    usage error (bad flag or argument)
  3    partial: finished, but some files failed (listed in the report), embeddings
       are pending because Ollama was unreachable, the store (--store) went
       away during rag ingest and some files were not written (the next run
       writes them), a hybrid search ran
       without its vector leg, a --deep answer has parts it could not answer,
       or rag audit --fail-on found what it names
  4    Ollama unreachable, not answering or misconfigured, or a model is
       missing or cannot do the job (an embedding model asked to chat);
       rag doctor found a server or model problem
  5    the index is locked by another rag ingest
  6    rag check found the index damaged
  130  interrupted`

// usageError marks a bad command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// hintError attaches a hint to an error.
type hintError struct {
	err  error
	hint string
}

func (e hintError) Error() string { return e.err.Error() }
func (e hintError) Unwrap() error { return e.err }

func withHint(err error, format string, args ...any) error {
	return hintError{err, fmt.Sprintf(format, args...)}
}

// partialError reports a finished run in which some files failed. Its message
// has already been shown as part of the command's report.
type partialError struct{ failed int }

func (e partialError) Error() string { return fmt.Sprintf("%d files failed", e.failed) }

// explain maps an error to its exit code and the hint to show with it.
func explain(ctx context.Context, err error) (code int, hint string) {
	var (
		he  hintError
		ue  usageError
		pe  partialError
		dre doctorError
		une *ollama.UnreachableError
		mme *ollama.ModelMissingError
		cpe *ollama.CapabilityError
		hoe *ollama.HostError
		cut *ollama.CutError
		mm  *index.ModelMismatchError
		sm  *index.SettingsMismatchError
		fe  *index.FormatError
		de  *index.DamagedError
	)
	if errors.As(err, &he) {
		hint = he.hint
	}
	switch {
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		return ExitInterrupted, ""
	case errors.As(err, new(*store.UnsupportedError)):
		use, _ := errors.AsType[*store.UnsupportedError](err)
		return ExitUsage, cmpStr(hint, use.Hint)
	case errors.As(err, &ue):
		return ExitUsage, cmpStr(hint, "see: rag --help")
	case errors.As(err, &pe):
		return ExitPartial, hint
	case errors.As(err, &dre):
		return dre.code, cmpStr(hint, "each problem above has its fix")
	case errors.As(err, &une):
		return ExitOllama, cmpStr(hint, "start Ollama with: ollama serve (or point OLLAMA_HOST at a running server); rag doctor checks the whole setup")
	case errors.As(err, new(*retrieve.EmbedTimeoutError)):
		return ExitOllama, cmpStr(hint, "give the server more time (--embed-timeout 60s), check it (rag doctor), or search with --mode hybrid or lexical")
	case errors.As(err, &mme):
		return ExitOllama, cmpStr(hint, fmt.Sprintf("run: ollama pull %s (or add --pull)", mme.Model))
	case errors.As(err, new(*provider.AuthError)), errors.As(err, new(*provider.ModelMissingError)), errors.Is(err, provider.ErrInsecure):
		return providerExit(err, hint) // providers.go
	case errors.As(err, &cpe):
		if cpe.Want == ollama.CapEmbedding {
			return ExitOllama, cmpStr(hint, "choose an embedding model with --embed-model (ollama list shows what the server has), such as all-minilm or nomic-embed-text")
		}
		return ExitOllama, cmpStr(hint, "choose a chat model with --chat-model (ollama list shows what the server has), such as llama3.2")
	case errors.As(err, &hoe):
		return ExitOllama, cmpStr(hint, hoe.Fix)
	case errors.As(err, &cut) || errors.Is(err, ollama.ErrIncomplete):
		return ExitError, cmpStr(hint, "the answer shown is incomplete; ask again (the server log says why it stopped)")
	case errors.Is(err, embed.ErrUnavailable):
		// A hung server, or one answering 5xx after the retries were spent.
		return ExitOllama, cmpStr(hint, "check the server (rag doctor, ollama ps, its log); retry when it answers")
	case errors.As(err, new(*index.ReadOnlyError)):
		roe, _ := errors.AsType[*index.ReadOnlyError](err)
		return ExitError, cmpStr(hint, fmt.Sprintf("remount %s read-write (or give this user write permission), or ingest into another folder with --index DIR; search, ask, status and check work on it as it is", roe.Dir))
	case errors.As(err, new(*index.DiskFullError)):
		dfe, _ := errors.AsType[*index.DiskFullError](err)
		return ExitError, cmpStr(hint, diskFullHint(dfe))
	case errors.Is(err, store.ErrSameStore):
		return ExitUsage, cmpStr(hint, "name another folder or store URL with --to")
	case errors.As(err, new(*weaviate.TLSError)):
		if te, _ := errors.AsType[*weaviate.TLSError](err); te.Plain {
			return ExitError, cmpStr(hint, "the server has no TLS: use weaviate:// instead of weaviates:// (or put a TLS proxy in front of it)")
		}
		return ExitError, cmpStr(hint, "if the server's certificate comes from a private CA, point SSL_CERT_FILE at that CA's PEM file (or SSL_CERT_DIR at a folder of them); the host in the store URL must be one the certificate names")
	case errors.As(err, new(*weaviate.AuthError)):
		return ExitError, cmpStr(hint, "set RAG_WEAVIATE_API_KEY to a key the server accepts (one of its AUTHENTICATION_APIKEY_ALLOWED_KEYS)")
	case errors.Is(err, store.ErrUnavailable):
		return ExitError, cmpStr(hint, "check that the store's server is up and reachable (--store, RAG_STORE)")
	case errors.As(err, new(*weaviate.GRPCError)):
		ge, _ := errors.AsType[*weaviate.GRPCError](err)
		return ExitError, cmpStr(hint, ge.Hint())
	case errors.Is(err, index.ErrLocked):
		return ExitLocked, cmpStr(hint, "another rag ingest is writing this index; wait for it, or give --wait a longer time")
	case errors.As(err, new(*index.BuildingError)):
		return ExitLocked, cmpStr(hint, "wait a few seconds and try again: it commits its work every few seconds, and rag status shows how far it has got")
	case errors.Is(err, index.ErrNoIndex):
		return ExitError, cmpStr(hint, "create it with: rag ingest PATH...")
	case errors.As(err, &mm):
		if loc, remote := remoteStore(mm.Dir); remote {
			return ExitError, cmpStr(hint, fmt.Sprintf("drop --embed-model to use %s, or rebuild the collection for %s: rag reindex --store %s --embed-model %s (or use another collection: --store %s)",
				mm.Indexed, mm.Requested, loc, mm.Requested, otherCollection(loc)))
		}
		return ExitError, cmpStr(hint, fmt.Sprintf("drop --embed-model to use %s, or build a new index for %s: rag ingest --index NEWDIR --embed-model %s PATH...", mm.Indexed, mm.Requested, mm.Requested))
	case errors.As(err, new(*weaviate.ReplacedError)):
		return ExitError, cmpStr(hint, "run the same command again: it compares the disk with the rebuilt collection")
	case errors.As(err, &sm):
		if loc, remote := remoteStore(sm.Dir); remote {
			return ExitError, cmpStr(hint, fmt.Sprintf("drop --chunk-tokens to keep %d, or rebuild the collection: rag reindex --store %s --chunk-tokens %d", sm.Indexed, loc, sm.Wanted))
		}
		return ExitError, cmpStr(hint, fmt.Sprintf("drop --chunk-tokens to keep %d, or build a new index with --index NEWDIR", sm.Indexed))
	case errors.As(err, &fe):
		return ExitError, cmpStr(hint, "rebuild it: move the folder away and run rag ingest again")
	case errors.As(err, new(*ingest.ChunkSizeError)):
		cse, _ := errors.AsType[*ingest.ChunkSizeError](err)
		return ExitUsage, cmpStr(hint, fmt.Sprintf("give --chunk-tokens %d or less, or drop it for the default (capped to the model)", cse.Max))
	case errors.Is(err, ingest.ErrNoRoots):
		return ExitUsage, cmpStr(hint, "name the folders to index once: rag ingest PATH... (later runs without paths refresh them)")
	case errors.As(err, new(*ingest.NotIndexedError)):
		return ExitError, cmpStr(hint, "nothing was removed; rag status shows the index, rag search --mode lexical finds what it holds")
	case errors.Is(err, ingest.ErrNoSuchRoot):
		return ExitUsage, cmpStr(hint, "check the path; rag ingest takes folders and files that exist")
	case errors.As(err, &de):
		return ExitDamaged, cmpStr(hint, "rebuild it from its files: rag reindex (rag check lists what is wrong)")
	case errors.Is(err, errUnhealthy):
		return ExitDamaged, hint
	case errors.As(err, new(*ingest.RebuildStoppedError)):
		// A cause with a hint of its own (a missing model: ollama pull or
		// --pull; a server that is down) was matched above.
		return ExitError, cmpStr(hint, "fix the cause and run rag reindex again")
	case errors.Is(err, retrieve.ErrEmptyQuery):
		return ExitUsage, cmpStr(hint, "give the query as an argument, or pipe it on stdin")
	}
	return ExitError, hint
}

// diskFullHint names the folder, what the run still needed and what is free.
func diskFullHint(e *index.DiskFullError) string {
	need := ""
	if e.Needed > 0 {
		need = fmt.Sprintf("about %s more ", humanBytes(e.Needed))
	}
	free := ""
	if e.Free >= 0 {
		free = fmt.Sprintf(" (%s free now)", humanBytes(e.Free))
	}
	return fmt.Sprintf("the committed index is intact; free %son the disk holding %s%s and run rag ingest again, or ingest into another folder with --index DIR", need, e.Dir, free)
}

func cmpStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// report prints err as one error line and one hint line on stderr (and, for
// --json, as an error object on stdout), and returns the exit code.
func report(ctx context.Context, s *iostreams.Streams, err error, asJSON bool) int {
	code, hint := explain(ctx, err)
	if _, ok := errors.AsType[partialError](err); ok {
		return code
	}
	msg := err.Error()
	if code == ExitInterrupted {
		msg = "interrupted"
	}
	msg = oneLine(iostreams.Sanitize(msg))
	fmt.Fprintf(s.Err, "rag: error: %s\n", msg)
	if hint != "" {
		fmt.Fprintf(s.Err, "rag: hint: %s\n", hint)
	}
	if asJSON {
		obj := map[string]any{"error": map[string]any{"message": msg, "hint": hint, "exit_code": code}}
		b, _ := json.Marshal(obj)
		fmt.Fprintf(s.Out, "%s\n", b)
	}
	return code
}

// oneLine folds a multi-line error (a YAML error lists its problems one per
// line) into one line.
func oneLine(s string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " ")
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// remoteStore reports whether an error's location (index.ModelMismatchError's
// Dir...) names a store URL rather than an index folder, and gives it back
// as a URL a user can paste (never with a credential: locations have none).
func remoteStore(where string) (store.Location, bool) {
	if !strings.Contains(where, "://") {
		return store.Location{}, false
	}
	l, err := store.ParseURL(where)
	return l, err == nil && !l.Local()
}

// otherCollection is loc with its collection replaced by a placeholder:
// what the hints offer as a fresh collection beside it.
func otherCollection(loc store.Location) string {
	l := loc
	l.Collection = "NewCollection"
	return l.String()
}
