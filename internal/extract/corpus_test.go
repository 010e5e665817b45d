package extract

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ragcli/rag/internal/shareddata"
)

// TestOtelDocsCorpus extracts a real documentation tree (Hugo, front matter,
// shortcodes) from the shared data, which is not in the repository.
func TestOtelDocsCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus test skipped in -short mode")
	}
	otelDocs := filepath.Join(shareddata.Dir(t, "otel-docs"), "content")
	ctx := context.Background()
	files := 0
	err := filepath.WalkDir(otelDocs, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".md") {
			return err
		}
		files++
		doc, err := File(ctx, path, Options{})
		if err != nil {
			// A page may legitimately be front matter only.
			if Reason(err) == "no text" {
				return nil
			}
			t.Errorf("%s: %v", path, err)
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checkInvariants(t, data, doc)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("no Markdown files found")
	}
}
