package extract

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// dump renders a document in a stable, readable form for golden files.
func dump(doc *Document) string {
	var b strings.Builder
	fmt.Fprintf(&b, "format: %s\ntitle: %q\n", doc.Format, doc.Title)
	for i, bl := range doc.Blocks {
		fmt.Fprintf(&b, "\n=== block %d: %s lines %d-%d page %d headings %q\n%s\n",
			i+1, kindName(bl.Kind), bl.StartLine, bl.EndLine, bl.Page, bl.Headings, bl.Text)
	}
	return b.String()
}

func kindName(k Kind) string {
	switch k {
	case KindParagraph:
		return "paragraph"
	case KindHeading:
		return "heading"
	case KindCode:
		return "code"
	case KindList:
		return "list"
	case KindTable:
		return "table"
	}
	return fmt.Sprintf("kind(%d)", k)
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file; got:\n%s", path, got)
	}
}

// checkInvariants asserts what every extracted document must satisfy.
func checkInvariants(t *testing.T, data []byte, doc *Document) {
	t.Helper()
	lines := bytes.Count(data, []byte("\n")) + 1
	if len(doc.Blocks) == 0 {
		t.Fatalf("document without blocks and without error")
	}
	for i, b := range doc.Blocks {
		if strings.TrimSpace(b.Text) == "" {
			t.Errorf("block %d has empty text", i)
		}
		if b.StartLine > b.EndLine {
			t.Errorf("block %d: StartLine %d > EndLine %d", i, b.StartLine, b.EndLine)
		}
		if b.StartLine < 0 || b.EndLine > lines {
			t.Errorf("block %d: lines %d-%d outside the file's %d lines", i, b.StartLine, b.EndLine, lines)
		}
		if strings.ContainsRune(b.Text, 0x1b) {
			t.Errorf("block %d: text holds an ESC byte: %q", i, b.Text)
		}
		for _, h := range b.Headings {
			if strings.ContainsRune(h, 0x1b) {
				t.Errorf("block %d: heading holds an ESC byte: %q", i, h)
			}
		}
	}
	if strings.ContainsRune(doc.Title, 0x1b) {
		t.Errorf("title holds an ESC byte: %q", doc.Title)
	}
}

func TestSupported(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"docs/guide.md", true},
		{"GUIDE.MD", true},
		{"a.markdown", true},
		{"page.mdx", true},
		{"notes.txt", true},
		{"index.HTML", true},
		{"main.go", true},
		{"lib.rs", true},
		{"config.yaml", true},
		{"report.docx", true},
		{"paper.pdf", true},
		{"README", true},
		{"src/Makefile", true},
		{"Dockerfile", true},
		{"LICENSE", true},
		{"photo.png", false},
		{"archive.tar.gz", false},
		{"randomname", false},
		{".bashrc", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := Supported(tt.path); got != tt.want {
			t.Errorf("Supported(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestFormatOf(t *testing.T) {
	tests := []struct {
		path string
		want Format
	}{
		{"a.md", FormatMarkdown},
		{"a.rst", FormatText},
		{"README", FormatText},
		{"a.htm", FormatHTML},
		{"a.py", FormatCode},
		{"a.tf", FormatCode},
		{"a.docx", FormatDOCX},
		{"a.pdf", FormatPDF},
	}
	for _, tt := range tests {
		if got, _ := formatOf(tt.path); got != tt.want {
			t.Errorf("formatOf(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		path   string
		data   string
		opts   Options
		want   error
		reason string
	}{
		{"unsupported", "a.png", "x", Options{}, ErrUnsupported, "unsupported file type"},
		{"empty", "a.txt", "", Options{}, ErrNoText, "empty file"},
		{"only white space", "a.md", " \n\t\n", Options{}, ErrNoText, "empty file"},
		{"only empty front matter", "a.md", "---\ntags: [x]\n---\n", Options{}, ErrNoText, "no text"},
		{"only control characters", "a.txt", "\x1b[31m\x1b[0m\n", Options{}, ErrNoText, "no text"},
		{"too large", "a.txt", "hello world", Options{MaxBytes: 5}, ErrTooLarge, "file too large"},
		{"nul bytes", "a.txt", "abc\x00def", Options{}, ErrBinary, "binary file"},
		{"nul bytes in code", "a.go", "package x\x00", Options{}, ErrBinary, "binary file"},
		{"nul bytes in markdown", "a.md", "# x\x00", Options{}, ErrBinary, "binary file"},
		{"invalid utf-8", "a.txt", "ok " + strings.Repeat("\xfa\xfb\xfc\x81", 10), Options{}, ErrBinary, "not valid utf-8"},
		{"ole file as docx", "a.docx", "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", Options{}, ErrEncrypted, "encrypted docx"},
		{"not a zip", "a.docx", "PK but not really", Options{}, ErrMalformed, "malformed docx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Bytes(ctx, tt.path, []byte(tt.data), tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Bytes() = %v, %v; want error %v", doc, err, tt.want)
			}
			if doc != nil {
				t.Errorf("Bytes() returned a document with an error")
			}
			if got := Reason(err); got != tt.reason {
				t.Errorf("Reason() = %q, want %q", got, tt.reason)
			}
		})
	}
}

func TestReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{ErrEncrypted, "encrypted"},
		{fmt.Errorf("ingest: %w", ErrNoText), "no text"},
		{fmt.Errorf("walk: %w", newError(ErrTooLarge, "decompression bomb", nil)), "decompression bomb"},
		{context.Canceled, "canceled"},
		{&fs.PathError{Op: "open", Path: "x", Err: fs.ErrNotExist}, "file not found"},
		{&fs.PathError{Op: "open", Path: "x", Err: fs.ErrPermission}, "permission denied"},
		{errors.New("disk on fire"), "read error"},
	}
	for _, tt := range tests {
		if got := Reason(tt.err); got != tt.want {
			t.Errorf("Reason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ctx := context.Background()

	t.Run("reads a file", func(t *testing.T) {
		p := write("notes.txt", "one\n\ntwo\n")
		doc, err := File(ctx, p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if doc.Path != p || doc.Format != FormatText || len(doc.Blocks) != 2 {
			t.Errorf("File() = %+v", doc)
		}
	})
	t.Run("refuses a large file before reading it", func(t *testing.T) {
		p := write("big.md", strings.Repeat("x", 100))
		_, err := File(ctx, p, Options{MaxBytes: 99})
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("File() error = %v, want ErrTooLarge", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := File(ctx, filepath.Join(dir, "nope.md"), Options{})
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("File() error = %v, want fs.ErrNotExist", err)
		}
		if Reason(err) != "file not found" {
			t.Errorf("Reason() = %q", Reason(err))
		}
	})
	t.Run("unsupported is decided before opening", func(t *testing.T) {
		_, err := File(ctx, filepath.Join(dir, "nope.png"), Options{})
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("File() error = %v, want ErrUnsupported", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		d := filepath.Join(dir, "sub.md")
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := File(ctx, d, Options{})
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("File() error = %v, want ErrUnsupported", err)
		}
	})
	t.Run("canceled context", func(t *testing.T) {
		p := write("c.txt", "text")
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := File(cctx, p, Options{})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("File() error = %v, want context.Canceled", err)
		}
	})
}

func TestRecoverMalformed(t *testing.T) {
	f := func() (doc *Document, err error) {
		defer recoverMalformed(&doc, &err)
		panic(errors.New("boom"))
	}
	doc, err := f()
	if doc != nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "boom") {
		t.Errorf("recovered = %v, %v; want ErrMalformed mentioning the panic", doc, err)
	}
}
