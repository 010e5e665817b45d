package extract

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestMarkdownGolden(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "guide.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Bytes(context.Background(), "guide.md", data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, data, doc)
	golden(t, "guide.md.golden", dump(doc))
}

// TestMarkdownGuideLines pins the line ranges of the golden file's key blocks,
// so that a careless -update cannot bless wrong positions.
func TestMarkdownGuideLines(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "guide.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Bytes(context.Background(), "guide.md", data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		kind       Kind
		start, end int
		headings   []string
	}{
		{KindHeading, 7, 7, []string{"Getting started"}},
		{KindParagraph, 9, 10, []string{"Getting started"}},
		{KindHeading, 12, 12, []string{"Getting started", "Install"}},
		{KindParagraph, 14, 14, []string{"Getting started", "Install"}},
		{KindList, 16, 21, []string{"Getting started", "Install"}},
		{KindHeading, 23, 23, []string{"Getting started", "Install", "Configuration file"}},
		{KindCode, 25, 31, []string{"Getting started", "Install", "Configuration file"}},
		{KindTable, 33, 36, []string{"Getting started", "Install", "Configuration file"}},
		{KindHeading, 38, 39, []string{"Getting started", "Setext section"}},
		{KindCode, 41, 42, []string{"Getting started", "Setext section"}},
		{KindParagraph, 44, 45, []string{"Getting started", "Setext section"}},
		{KindParagraph, 47, 47, []string{"Getting started", "Setext section"}},
		{KindHeading, 51, 51, []string{"Reference"}},
		{KindParagraph, 52, 52, []string{"Reference"}},
	}
	if len(doc.Blocks) != len(want) {
		t.Fatalf("got %d blocks, want %d:\n%s", len(doc.Blocks), len(want), dump(doc))
	}
	for i, w := range want {
		b := doc.Blocks[i]
		if b.Kind != w.kind || b.StartLine != w.start || b.EndLine != w.end || !reflect.DeepEqual(b.Headings, w.headings) {
			t.Errorf("block %d = %s %d-%d %q, want %s %d-%d %q", i+1,
				kindName(b.Kind), b.StartLine, b.EndLine, b.Headings,
				kindName(w.kind), w.start, w.end, w.headings)
		}
	}
	if doc.Title != "Collector Guide" {
		t.Errorf("Title = %q, want the front-matter title", doc.Title)
	}
	if code := doc.Blocks[6].Text; code[:7] != "```yaml" || code[len(code)-3:] != "```" {
		t.Errorf("code block does not keep its fences:\n%s", code)
	}
}

func TestMarkdown(t *testing.T) {
	tests := []struct {
		name  string
		input string
		title string
		want  []block
	}{
		{
			name:  "toml front matter",
			input: "+++\ntitle = \"From TOML\"\n[params]\ntitle = \"nested\"\n+++\nBody text.\n",
			title: "From TOML",
			want:  []block{{"Body text.", KindParagraph, nil, 6, 6}},
		},
		{
			name:  "yaml front matter closed by dots",
			input: "---\ntitle: Dots\n...\n\nHello\n",
			title: "Dots",
			want:  []block{{"Hello", KindParagraph, nil, 5, 5}},
		},
		{
			name:  "broken yaml falls back to the title line",
			input: "---\ntitle: Broken\nkey: [unclosed\n---\nHi\n",
			title: "Broken",
			want:  []block{{"Hi", KindParagraph, nil, 5, 5}},
		},
		{
			name:  "unclosed front matter is text",
			input: "---\ntitle: x\n",
			title: "",
			want:  []block{{"title: x", KindParagraph, nil, 2, 2}},
		},
		{
			name:  "first h1 is the title",
			input: "# Main {#main}\n\n## Sub ##\ntext\n",
			title: "Main",
			want: []block{
				{"Main", KindHeading, []string{"Main"}, 1, 1},
				{"Sub", KindHeading, []string{"Main", "Sub"}, 3, 3},
				{"text", KindParagraph, []string{"Main", "Sub"}, 4, 4},
			},
		},
		{
			name:  "heading levels pop",
			input: "# A\n### C\n## B\nx\n",
			title: "A",
			want: []block{
				{"A", KindHeading, []string{"A"}, 1, 1},
				{"C", KindHeading, []string{"A", "C"}, 2, 2},
				{"B", KindHeading, []string{"A", "B"}, 3, 3},
				{"x", KindParagraph, []string{"A", "B"}, 4, 4},
			},
		},
		{
			name:  "tilde fence with hash lines",
			input: "~~~\n# not a heading\n\n# still not\n~~~\n",
			want:  []block{{"~~~\n# not a heading\n\n# still not\n~~~", KindCode, nil, 1, 5}},
		},
		{
			name:  "unclosed fence runs to the end",
			input: "```go\nfunc f() {}\n",
			want:  []block{{"```go\nfunc f() {}", KindCode, nil, 1, 2}},
		},
		{
			name:  "empty fence is dropped",
			input: "```\n```\n\ntext\n",
			want:  []block{{"text", KindParagraph, nil, 4, 4}},
		},
		{
			name:  "list with nested fence",
			input: "- a\n- b\n  ```\n  code\n  ```\n\nafter\n",
			want: []block{
				{"- a\n- b\n  ```\n  code\n  ```", KindList, nil, 1, 5},
				{"after", KindParagraph, nil, 7, 7},
			},
		},
		{
			name:  "loose ordered list",
			input: "1. one\n\n2. two\n",
			want:  []block{{"1. one\n\n2. two", KindList, nil, 1, 3}},
		},
		{
			name:  "table without body",
			input: "| a | b |\n|---|---|\n",
			want:  []block{{"| a | b |\n|---|---|", KindTable, nil, 1, 2}},
		},
		{
			name:  "table with an empty last row",
			input: "| a | b |\n|---|---|\n| 1 | 2 |\n|   |   |\n",
			want:  []block{{"| a | b |\n|---|---|\n| 1 | 2 |\n|   |   |", KindTable, nil, 1, 4}},
		},
		{
			name:  "paragraph then table",
			input: "intro\n| a |\n|---|\n| 1 |\n",
			want: []block{
				{"intro", KindParagraph, nil, 1, 1},
				{"| a |\n|---|\n| 1 |", KindTable, nil, 2, 4},
			},
		},
		{
			name:  "atx heading before thematic break",
			input: "# T\n---\nx\n",
			title: "T",
			want: []block{
				{"T", KindHeading, []string{"T"}, 1, 1},
				{"x", KindParagraph, []string{"T"}, 3, 3},
			},
		},
		{
			name:  "html block kept, comment dropped",
			input: "<!--\nhidden\n-->\n\n<div>\nshown\n</div>\n",
			want:  []block{{"<div>\nshown\n</div>", KindParagraph, nil, 5, 7}},
		},
		{
			name:  "crlf line endings",
			input: "# T\r\n\r\nline one\r\nline two\r\n",
			title: "T",
			want: []block{
				{"T", KindHeading, []string{"T"}, 1, 1},
				{"line one\nline two", KindParagraph, []string{"T"}, 3, 4},
			},
		},
		{
			name:  "escape sequences are stripped",
			input: "# \x1b[31mRed\x1b[0m\n\nclick \x1b]8;;http://x\x07here\x1b]8;;\x07\n",
			title: "Red",
			want: []block{
				{"Red", KindHeading, []string{"Red"}, 1, 1},
				{"click here", KindParagraph, []string{"Red"}, 3, 3},
			},
		},
		{
			name:  "shortcodes stay",
			input: "{{< note >}}\nKeep me.\n{{< /note >}}\n",
			want:  []block{{"{{< note >}}\nKeep me.\n{{< /note >}}", KindParagraph, nil, 1, 3}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Bytes(context.Background(), "t.md", []byte(tt.input), Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, []byte(tt.input), doc)
			want := tt.title
			if want == "" {
				want = "t" // a file that names no title is titled by its name, t.md
			}
			if doc.Title != want {
				t.Errorf("Title = %q, want %q", doc.Title, want)
			}
			var got []block
			for _, b := range doc.Blocks {
				got = append(got, block{b.Text, b.Kind, b.Headings, b.StartLine, b.EndLine})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("blocks:\n got %+v\nwant %+v", got, tt.want)
			}
			if doc.Format != FormatMarkdown {
				t.Errorf("Format = %q", doc.Format)
			}
		})
	}
}

// TestMarkdownDeepNesting guards against stack exhaustion on hostile input:
// the walk over goldmark's tree must not recurse per nesting level.
func TestMarkdownDeepNesting(t *testing.T) {
	for name, data := range map[string]string{
		"block quotes": strings.Repeat(">", 50000) + " deep\n",
		"lists":        strings.Repeat("- ", 20000) + "deep\n",
		"emphasis":     strings.Repeat("*", 50000) + "deep" + strings.Repeat("*", 50000) + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			doc, err := Bytes(context.Background(), "deep.md", []byte(data), Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, []byte(data), doc)
		})
	}
}

func TestMarkdownPathologicalFallsBackToText(t *testing.T) {
	tests := map[string]string{
		"deep quotes":        strings.Repeat(">", 500) + " x\n",
		"deep indented list": strings.Repeat(" ", 800) + "- x\n",
		"open brackets":      strings.Repeat("[a](\n", 3000),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			if !pathological(data) {
				t.Fatal("not recognised as pathological")
			}
			doc, err := Bytes(context.Background(), "p.md", []byte(data), Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, []byte(data), doc)
			if len(doc.Blocks) != 1 || doc.Blocks[0].Kind != KindParagraph || doc.Blocks[0].StartLine != 1 {
				t.Errorf("blocks = %+v", doc.Blocks)
			}
		})
	}
	guide, err := os.ReadFile(filepath.Join("testdata", "guide.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ok := range []string{string(guide), strings.Repeat("-", 300) + "\n", "Title\n" + strings.Repeat("=", 300) + "\n"} {
		if pathological(ok) {
			t.Errorf("an ordinary document is taken as pathological: %.40q", ok)
		}
	}
}

// TestMarkdownTitleAndFrontMatterOnly guards the title every Markdown chunk
// carries on its first line (front matter, else the first heading, else the
// file name) and that a page of front matter only is indexed by its title
// and description.
// block is the part of a Markdown block the extractor decides.
type block struct {
	Text       string
	Kind       Kind
	Headings   []string
	Start, End int
}

func TestMarkdownTitleAndFrontMatterOnly(t *testing.T) {
	tests := []struct {
		name, path, input string
		title             string
		blocks            []block
	}{
		{
			name:   "front matter only",
			path:   "docs/concepts/_index.md",
			input:  "---\ntitle: Signals\ndescription: >-\n  Learn about the categories\n  of telemetry.\nweight: 11\n---\n",
			title:  "Signals",
			blocks: []block{{"Signals\n\nLearn about the categories of telemetry.", KindParagraph, nil, 1, 7}},
		},
		{
			name:   "toml front matter only",
			path:   "content/about.md",
			input:  "+++\ntitle = \"About Hugo\"\ndescription = 'What it is'\n+++\n\n",
			title:  "About Hugo",
			blocks: []block{{"About Hugo\n\nWhat it is", KindParagraph, nil, 1, 4}},
		},
		{
			name:   "first heading of any level",
			path:   "notes.md",
			input:  "intro\n\n## Setup\n\ntext\n",
			title:  "Setup",
			blocks: []block{{"intro", KindParagraph, nil, 1, 1}, {"Setup", KindHeading, []string{"Setup"}, 3, 3}, {"text", KindParagraph, []string{"Setup"}, 5, 5}},
		},
		{
			name:   "H1 wins over an earlier H2",
			path:   "notes.md",
			input:  "## Aside\n\n# Main\n",
			title:  "Main",
			blocks: []block{{"Aside", KindHeading, []string{"Aside"}, 1, 1}, {"Main", KindHeading, []string{"Main"}, 3, 3}},
		},
		{
			name:   "file name",
			path:   "a/release-notes.md",
			input:  "just text\n",
			title:  "release-notes",
			blocks: []block{{"just text", KindParagraph, nil, 1, 1}},
		},
		{
			name:   "an index page takes its folder's name",
			path:   "docs/install/README.md",
			input:  "just text\n",
			title:  "install",
			blocks: []block{{"just text", KindParagraph, nil, 1, 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Bytes(context.Background(), tt.path, []byte(tt.input), Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, []byte(tt.input), doc)
			if doc.Title != tt.title {
				t.Errorf("Title = %q, want %q", doc.Title, tt.title)
			}
			var got []block
			for _, b := range doc.Blocks {
				got = append(got, block{b.Text, b.Kind, b.Headings, b.StartLine, b.EndLine})
			}
			if !reflect.DeepEqual(got, tt.blocks) {
				t.Errorf("blocks:\n got %+v\nwant %+v", got, tt.blocks)
			}
		})
	}
}
