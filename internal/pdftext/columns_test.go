package pdftext

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ragcli/rag/internal/shareddata"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// TestTwoColumnGoldenTracemonkey guards the reading order of a two-column
// paper whose title and authors run across the gutter: page 1 of the
// tracemonkey paper (pdf.js test file) is read title block first, then the
// left column top to bottom, then the right one, never interleaved line by
// line. The golden is testdata/tracemonkey-page1.golden (-update rewrites
// it); the test skips where the shared PDFs are absent.
func TestTwoColumnGoldenTracemonkey(t *testing.T) {
	path := filepath.Join(shareddata.Dir(t, "pdfs"), "pdfjs", "tracemonkey.pdf")
	res, err := Extract(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	got := res.Pages[0] + "\n"
	golden := filepath.Join("testdata", "tracemonkey-page1.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("page 1 differs from %s (run with -update to accept):\n%s", golden, got)
	}
	// What the golden must show, whatever else changes in it.
	for _, s := range []string{
		"Dynamic languages such as JavaScript are more difficult to compile\nthan statically typed ones.",
		"programs.\n\nCategories and Subject Descriptors",
	} {
		if !strings.Contains(got, s) {
			t.Errorf("page 1 lacks %q", s)
		}
	}
	left := strings.Index(got, "have measured speedups of 10x")
	right := strings.Index(got, "and is used for the application logic")
	if left < 0 || right < 0 || left > right {
		t.Errorf("left column (at %d) does not come before the right one (at %d)", left, right)
	}
}
