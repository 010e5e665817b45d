package pdftext

import (
	"os"
	"testing"

	"github.com/ledongthuc/pdf"
)

// TestDebugGlyphs logs the glyphs of page 1 of RAG_PDF_GLYPHS; a debugging aid.
func TestDebugGlyphs(t *testing.T) {
	path := os.Getenv("RAG_PDF_GLYPHS")
	if path == "" {
		t.Skip()
	}
	f, r, err := pdf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gs, err := pageGlyphs(r.Page(1))
	for _, g := range gs {
		t.Logf("%7.2f %7.2f w=%6.2f size=%5.2f dir=%d %q", g.x, g.y, g.w, g.size, g.dir, g.s)
	}
	t.Log(err)
}
