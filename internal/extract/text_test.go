package extract

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

// lineBlocks is the part of a block the line-based extractors decide.
type lineBlocks struct {
	Text       string
	Kind       Kind
	Start, End int
}

func blocksOf(doc *Document) []lineBlocks {
	var out []lineBlocks
	for _, b := range doc.Blocks {
		out = append(out, lineBlocks{b.Text, b.Kind, b.StartLine, b.EndLine})
	}
	return out
}

func TestText(t *testing.T) {
	tests := []struct {
		name  string
		path  string
		input string
		want  []lineBlocks
		enc   string // the Encoding reported
	}{
		{
			name:  "paragraphs",
			path:  "a.txt",
			input: "first line\nsecond line\n\n\nthird\n",
			want: []lineBlocks{
				{"first line\nsecond line", KindParagraph, 1, 2},
				{"third", KindParagraph, 5, 5},
			},
		},
		{
			name:  "leading blank lines and white-space-only lines",
			path:  "README",
			input: "\n\n  \nhello\n \t \nworld",
			want: []lineBlocks{
				{"hello", KindParagraph, 4, 4},
				{"world", KindParagraph, 6, 6},
			},
		},
		{
			name:  "crlf",
			path:  "notes.TXT",
			input: "a\r\nb\r\n\r\nc\r\n",
			want: []lineBlocks{
				{"a\nb", KindParagraph, 1, 2},
				{"c", KindParagraph, 4, 4},
			},
		},
		{
			name:  "utf-8 bom",
			path:  "a.txt",
			input: "\xef\xbb\xbfhello",
			want:  []lineBlocks{{"hello", KindParagraph, 1, 1}},
		},
		{
			name:  "utf-16le with bom",
			path:  "a.txt",
			input: "\xff\xfeh\x00i\x00\n\x00",
			want:  []lineBlocks{{"hi", KindParagraph, 1, 1}},
			enc:   EncodingUTF16LE,
		},
		{
			name:  "Latin-1 is read as Windows-1252",
			path:  "a.txt",
			input: "caf\xe9 au lait \x96 na\xefve, and a long enough line around it",
			want:  []lineBlocks{{"café au lait – naïve, and a long enough line around it", KindParagraph, 1, 1}},
			enc:   EncodingWindows1252,
		},
		{
			name:  "a few invalid bytes in UTF-8 become U+FFFD",
			path:  "a.txt",
			input: "caf\xc3\xa9 au lait, na\xc3\xafve \xff d\xc3\xa9j\xc3\xa0 vu",
			want:  []lineBlocks{{"café au lait, naïve \uFFFD déjà vu", KindParagraph, 1, 1}},
		},
		{
			name:  "UTF-16 big-endian with a byte-order mark",
			path:  "a.txt",
			input: "\xfe\xff\x00h\x00\xe9",
			want:  []lineBlocks{{"hé", KindParagraph, 1, 1}},
			enc:   EncodingUTF16BE,
		},
		{
			name:  "control characters and escapes are stripped",
			path:  "build.log",
			input: "\x1b[1;32mok\x1b[0m\x07 done\r\nnext\x1b]0;title\x1b\\ line\n",
			want:  []lineBlocks{{"ok done\nnext line", KindParagraph, 1, 2}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Bytes(context.Background(), tt.path, []byte(tt.input), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if doc.Format != FormatText {
				t.Errorf("Format = %q, want text", doc.Format)
			}
			if got := blocksOf(doc); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("blocks:\n got %+v\nwant %+v", got, tt.want)
			}
			if doc.Encoding != tt.enc {
				t.Errorf("Encoding = %q, want %q", doc.Encoding, tt.enc)
			}
		})
	}
}

func TestTextHugeLine(t *testing.T) {
	line := strings.Repeat("word ", 2<<20) // a 10 MiB line
	data := []byte("title\n\n" + line + "\n")
	doc, err := Bytes(context.Background(), "big.txt", data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Blocks) != 2 || doc.Blocks[1].StartLine != 3 || doc.Blocks[1].EndLine != 3 ||
		len(doc.Blocks[1].Text) != len(line)-1 {
		t.Errorf("huge line: got %d blocks, second %d-%d with %d bytes",
			len(doc.Blocks), doc.Blocks[1].StartLine, doc.Blocks[1].EndLine, len(doc.Blocks[1].Text))
	}
}

func TestCode(t *testing.T) {
	tests := []struct {
		name  string
		path  string
		input string
		want  []lineBlocks
	}{
		{
			name:  "go functions split at top level",
			path:  "main.go",
			input: "package main\n\nimport \"fmt\"\n\n// f says hi.\nfunc f() {\n\tx := 1\n\n\tfmt.Println(x)\n\n}\n\n\nfunc g() {}\n",
			want: []lineBlocks{
				{"package main", KindCode, 1, 1},
				{"import \"fmt\"", KindCode, 3, 3},
				{"// f says hi.\nfunc f() {\n\tx := 1\n\n\tfmt.Println(x)\n\n}", KindCode, 5, 11},
				{"func g() {}", KindCode, 14, 14},
			},
		},
		{
			name:  "python body with blank lines stays whole",
			path:  "a.py",
			input: "def f():\n    a = 1\n\n    return a\n\nclass C:\n    pass\n",
			want: []lineBlocks{
				{"def f():\n    a = 1\n\n    return a", KindCode, 1, 4},
				{"class C:\n    pass", KindCode, 6, 7},
			},
		},
		{
			name:  "ruby end stays with its block",
			path:  "a.rb",
			input: "def f\n  1\n\nend\n",
			want:  []lineBlocks{{"def f\n  1\n\nend", KindCode, 1, 4}},
		},
		{
			name:  "yaml",
			path:  "c.YML",
			input: "a: 1\n\nb:\n  - x\n",
			want: []lineBlocks{
				{"a: 1", KindCode, 1, 1},
				{"b:\n  - x", KindCode, 3, 4},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Bytes(context.Background(), tt.path, []byte(tt.input), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if doc.Format != FormatCode {
				t.Errorf("Format = %q, want code", doc.Format)
			}
			for _, b := range doc.Blocks {
				if b.Headings != nil {
					t.Errorf("code block has headings %q", b.Headings)
				}
			}
			if got := blocksOf(doc); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("blocks:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
