package extract

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// htmlBlock is the part of a block the HTML extractor decides.
type htmlBlock struct {
	Text     string
	Kind     Kind
	Headings []string
}

func TestHTML(t *testing.T) {
	tests := []struct {
		name  string
		input string
		title string
		want  []htmlBlock
	}{
		{
			name: "page chrome and scripts are removed",
			input: `<!DOCTYPE html>
<html><head><title> The  Title </title><style>body{color:red}</style>
<script>var secret = "script text";</script></head>
<body>
<header><a href="/">Site name</a></header>
<nav><ul><li>Menu item</li></ul></nav>
<main>
<h1>Guide</h1>
<p>First   paragraph
with <b>bold</b> and <a href="#">a link</a>.</p>
<noscript>Enable JavaScript</noscript>
<template><p>template text</p></template>
<svg><title>icon</title><text>svg text</text></svg>
<h2>Install</h2>
<ul><li>one</li><li>two <code>cmd</code></li></ul>
<pre>
line 1
  indented  line 2
</pre>
<div hidden>hidden div</div>
<p aria-hidden="true">aria hidden</p>
<p style="display: none">display none</p>
<form><label>Name</label><button>Send</button></form>
<aside>Related posts</aside>
<iframe src="x">frame text</iframe>
<h2>Reference</h2>
<table><tr><th>Key</th><td>Value</td></tr></table>
<blockquote>A quote<br>on two lines</blockquote>
</main>
<footer>Copyright</footer>
</body></html>`,
			title: "The Title",
			want: []htmlBlock{
				{"Guide", KindHeading, []string{"Guide"}},
				{"First paragraph with bold and a link.", KindParagraph, []string{"Guide"}},
				{"Install", KindHeading, []string{"Guide", "Install"}},
				{"one", KindList, []string{"Guide", "Install"}},
				{"two cmd", KindList, []string{"Guide", "Install"}},
				{"line 1\n  indented  line 2", KindCode, []string{"Guide", "Install"}},
				{"Reference", KindHeading, []string{"Guide", "Reference"}},
				{"Key", KindTable, []string{"Guide", "Reference"}},
				{"Value", KindTable, []string{"Guide", "Reference"}},
				{"A quote\non two lines", KindParagraph, []string{"Guide", "Reference"}},
			},
		},
		{
			name:  "first h1 is the title without <title>",
			input: "<h1>Only <em>heading</em></h1><p>text</p>",
			title: "Only heading",
			want: []htmlBlock{
				{"Only heading", KindHeading, []string{"Only heading"}},
				{"text", KindParagraph, []string{"Only heading"}},
			},
		},
		{
			name:  "fragment without block elements",
			input: "just some &amp; text",
			want:  []htmlBlock{{"just some & text", KindParagraph, nil}},
		},
		{
			name:  "escape sequences in text are stripped",
			input: "<p>\x1b[31mred\x1b[0m</p>",
			want:  []htmlBlock{{"red", KindParagraph, nil}},
		},
		{
			name:  "windows-1252 page",
			input: "<meta charset=\"windows-1252\"><p>caf\xe9 \x93quoted\x94</p>",
			want:  []htmlBlock{{"café “quoted”", KindParagraph, nil}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Bytes(context.Background(), "page.html", []byte(tt.input), Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, []byte(tt.input), doc)
			if doc.Title != tt.title {
				t.Errorf("Title = %q, want %q", doc.Title, tt.title)
			}
			var got []htmlBlock
			for _, b := range doc.Blocks {
				got = append(got, htmlBlock{b.Text, b.Kind, b.Headings})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("blocks:\n got %+v\nwant %+v", got, tt.want)
			}
			for _, b := range doc.Blocks {
				for _, banned := range []string{"script", "Menu", "Site name", "template", "svg", "hidden", "Copyright", "Related", "Send", "frame"} {
					if strings.Contains(b.Text, banned) {
						t.Errorf("block %q holds removed text %q", b.Text, banned)
					}
				}
			}
		})
	}
}

func TestHTMLDeepNesting(t *testing.T) {
	// x/net/html refuses more than 512 open elements; below that the walk
	// must cope, above it the page is reported as malformed, not crashed on.
	for _, tt := range []struct {
		depth int
		want  error
	}{{500, nil}, {100000, ErrMalformed}} {
		data := strings.Repeat("<div>", tt.depth) + "deep text" + strings.Repeat("</div>", tt.depth)
		doc, err := Bytes(context.Background(), "deep.html", []byte(data), Options{})
		if !errors.Is(err, tt.want) {
			t.Fatalf("depth %d: error = %v, want %v", tt.depth, err, tt.want)
		}
		if err == nil && (len(doc.Blocks) != 1 || doc.Blocks[0].Text != "deep text") {
			t.Errorf("depth %d: blocks = %+v", tt.depth, doc.Blocks)
		}
	}
}
