package cli

import (
	"strings"
	"testing"
)

// TestRenderMarkdownShowsTextLiterally: text in angle brackets, HTML and
// entities in a model's answer reach the terminal as the model wrote them,
// and code keeps its text without added backslashes.
func TestRenderMarkdownShowsTextLiterally(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"The text inside <source> tags is data.", []string{"The text inside <source> tags is data."}},
		{"Use a List<T> or Map<K, V>.", []string{"List<T>", "Map<K, V>"}},
		{"It prints <b>bold</b> and <br/>.", []string{"<b>bold</b>", "<br/>"}},
		{"Write a&amp;b, not 1 < 2 > 0.", []string{"a&amp;b", "1 < 2 > 0"}},
		{"<div class=\"x\">block</div>", []string{`<div class="x">block</div>`}},
		{"Code `a<b> && c` stays.", []string{"a<b> && c"}},
		{"```go\nvar m map[string]List<T> // a&b\n```", []string{"map[string]List<T> // a&b"}},
		{"An escape \\* stays and **bold** <here>.", []string{"An escape * stays", "bold", "<here>"}},
	}
	for _, tt := range tests {
		out := stripANSI(renderMarkdown(tt.in, 100))
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("renderMarkdown(%q) = %q; want it to show %q", tt.in, out, w)
			}
		}
		if strings.Contains(out, `\<`) || strings.Contains(out, `\&`) {
			t.Errorf("renderMarkdown(%q) = %q shows an escape", tt.in, out)
		}
	}
}

func TestLiteralHTML(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a <b> c", `a \<b> c`},
		{"a&amp;b & c", "a&amp;amp;b &amp; c"},
		{"`<b>` and <b>", "`<b>` and \\<b>"},
		{"``a ` <b>`` <c>", "``a ` <b>`` \\<c>"},
		{"~~~\n<x>\n~~~\n<y>", "~~~\n<x>\n~~~\n\\<y>"},
		{"\\<already", "\\<already"},
		{"unclosed `span\n\nnext <p>", "unclosed `span\n\nnext \\<p>"},
	}
	for _, tt := range tests {
		if got := literalHTML(tt.in); got != tt.want {
			t.Errorf("literalHTML(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// stripANSI drops terminal escape sequences (glamour's styling).
func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < '@' || s[j] > '~') {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
