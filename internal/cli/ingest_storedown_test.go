package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ragcli/rag/internal/ingest"
	"github.com/ragcli/rag/internal/iostreams"
	"github.com/ragcli/rag/internal/store"
)

// TestIngestStoreDownIsPartial: what rag ingest makes of a run whose store
// went away part way (ingest.Run's *StoreDownError with its report, as
// ingest.TestStoreGoesAwayMidRun and weaviatecli.TestIngestWhileWeaviateDies
// produce it): the report, one error line naming the store, the hint, exit
// 3; with --json the summary (files_not_written, store_error) is the one
// document on stdout. Run is replaced here because make test has no store
// that can go away.
func TestIngestStoreDownIsPartial(t *testing.T) {
	const url = "weaviate://127.0.0.1:9/Docs"
	cause := fmt.Errorf("write chunks: cannot reach weaviate at %s: connection refused (gave up after 10 tries in 27.1s): %w", url, store.ErrUnavailable)
	defer func(run func(context.Context, ingest.Options) (*ingest.Report, error)) { ingestRun = run }(ingestRun)
	ingestRun = func(ctx context.Context, o ingest.Options) (*ingest.Report, error) {
		rep := &ingest.Report{Index: o.Store.Location(), EmbedModel: "all-minilm", Updated: 64, ChunksEmbedded: 172,
			FilesNotWritten: 296, StoreError: cause.Error(),
			KeptRoots: []ingest.KeptRoot{}, SkippedFiles: []ingest.Problem{}, FailedFiles: []ingest.Problem{}, ReadNotes: []ingest.Problem{}, Redacted: []ingest.Problem{}}
		return rep, &ingest.StoreDownError{Store: o.Store.Location(), NotWritten: rep.FilesNotWritten, Err: cause}
	}
	dir := t.TempDir()
	env := map[string]string{"HOME": dir, "XDG_CONFIG_HOME": filepath.Join(dir, "config"), "OLLAMA_HOST": "http://127.0.0.1:9", "NO_COLOR": "1"}
	for _, asJSON := range []bool{false, true} {
		args := []string{"--store", url, "ingest", dir}
		if asJSON {
			args = append(args, "--json")
		}
		var out, errb bytes.Buffer
		code := Main(context.Background(), args, iostreams.Test(strings.NewReader(""), &out, &errb), func(k string) string { return env[k] })
		stderr := errb.String()
		if code != ExitPartial {
			t.Errorf("json %v: exit %d, want %d\n%s", asJSON, code, ExitPartial, stderr)
		}
		if !strings.Contains(stderr, "rag: error: 296 files not written: "+url+" unavailable: write chunks: ") ||
			!strings.Contains(stderr, "rag: hint: run rag ingest again when it is back") {
			t.Errorf("json %v: stderr lacks the error line or the hint:\n%s", asJSON, stderr)
		}
		if !asJSON {
			if !strings.Contains(stderr, "rag: 0 added, 64 updated") {
				t.Errorf("no report of what was committed:\n%s", stderr)
			}
			continue
		}
		var sum struct {
			Index           string
			Updated         int
			FilesNotWritten int    `json:"files_not_written"`
			StoreError      string `json:"store_error"`
		}
		dec := json.NewDecoder(&out)
		if err := dec.Decode(&sum); err != nil || dec.More() {
			t.Fatalf("stdout is not one JSON document (%v): %s", err, out.String())
		}
		if sum.Index != url || sum.Updated != 64 || sum.FilesNotWritten != 296 || !strings.HasPrefix(sum.StoreError, "write chunks: ") {
			t.Errorf("--json summary %+v", sum)
		}
	}
}
