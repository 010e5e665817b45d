package extract

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fuzzExtract runs Bytes on data and checks the invariants every document
// must keep; errors are fine as long as they are the documented ones.
func fuzzExtract(t *testing.T, path string, data []byte) {
	timer := time.AfterFunc(30*time.Second, func() { panic("hang on " + path) })
	defer timer.Stop()
	doc, err := Bytes(context.Background(), path, data, Options{})
	if err != nil {
		for _, known := range []error{ErrBinary, ErrNoText, ErrMalformed, ErrTooLarge, ErrEncrypted} {
			if errors.Is(err, known) {
				return
			}
		}
		t.Fatalf("unexpected error: %v", err)
	}
	checkInvariants(t, data, doc)
}

func FuzzMarkdown(f *testing.F) {
	if seed, err := os.ReadFile(filepath.Join("testdata", "guide.md")); err == nil {
		f.Add(seed)
	}
	for _, s := range []string{
		"# h\n\ntext\n",
		"---\ntitle: t\n---\n# a\n```\ncode\n```\n",
		"+++\ntitle = 'x'\n+++\n- a\n- b\n",
		"| a |\n|---|\n| 1 |\n",
		"Setext\n===\n\n> quote\n",
		"- ```\n  x\n\n> ~~~\n> y\n",
		"<div>\n\n</div>\n<!-- c -->\n",
		"\x1b[31m# red\x1b[0m\r\n",
		"```\n```\n#\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzExtract(t, "f.md", data)
	})
}

func FuzzHTML(f *testing.F) {
	for _, s := range []string{
		"<html><head><title>T</title></head><body><h1>A</h1><p>x</p></body></html>",
		"<pre>\n a\n</pre><ul><li>1<li>2</ul>",
		"<table><tr><td>a<td>b</table><script>x</script>",
		"<div hidden><p>h</p></div><h2 aria-hidden=true>x</h2>text",
		"<svg><title>s</title></svg><p>\x1b]0;x\x07y</p>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzExtract(t, "f.html", data)
	})
}

func FuzzText(f *testing.F) {
	for _, s := range []string{
		"a\n\nb\n",
		"\xff\xfeh\x00i\x00",
		"\xef\xbb\xbfx\r\ny",
		"caf\xe9",
		"\x1b[2J\x1b]8;;u\x07l\x1b]8;;\x07",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzExtract(t, "f.txt", data)
		fuzzExtract(t, "f.go", data)
	})
}

func FuzzDOCX(f *testing.F) {
	f.Add(makeDOCX(f, map[string]string{"word/document.xml": wordDocument(para("Heading1", "H") + para("", "body"))}))
	f.Add(makeDOCX(f, map[string]string{
		"word/document.xml": wordDocument(`<w:tbl><w:tr><w:tc>` + para("Title", "T") + `</w:tc></w:tr></w:tbl>`),
		"word/styles.xml":   `<w:styles ` + wordNS + `><w:style w:styleId="X"><w:name w:val="heading 3"/></w:style></w:styles>`,
		"docProps/core.xml": `<coreProperties><title>t</title></coreProperties>`,
	}))
	f.Add([]byte(wordDocument(para("Heading2", "x") + `<w:p><w:r><w:t>a</w:t><w:tab/><w:br/></w:r></w:p>`)))
	f.Add([]byte{0xd0, 0xcf, 0x11, 0xe0})
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzExtract(t, "f.docx", data)
		// Random bytes rarely make a valid zip; also feed them to the XML
		// reader inside one.
		fuzzExtract(t, "f.docx", makeDOCX(t, map[string]string{"word/document.xml": string(data)}))
	})
}
