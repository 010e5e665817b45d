package cli

import (
	"strings"

	"github.com/charmbracelet/glamour"
)

// renderMarkdown renders a model's Markdown with glamour for the terminal,
// or returns it as it is when that fails. The model's text is shown
// literally: Markdown would take "<source>", "List<T>" or HTML for raw HTML,
// which glamour drops, so they are escaped first (see literalHTML).
func renderMarkdown(text string, width int) string {
	r, err := glamour.NewTermRenderer(glamour.WithAutoStyle(), glamour.WithWordWrap(min(width, 100)))
	if err != nil {
		return text
	}
	out, err := r.Render(literalHTML(text))
	if err != nil {
		return text
	}
	return out
}

// literalHTML escapes < (as \<) and & (as &amp;) outside code, so that Markdown shows
// tags and entities as the characters they are instead of reading them as
// HTML. Code spans and fenced code blocks, where a backslash would show, are
// left as they are: Markdown never reads HTML there.
func literalHTML(md string) string {
	var b strings.Builder
	b.Grow(len(md) + len(md)/16)
	var fence string // the open fence ("```" or "~~~", with its length), if any
	span := 0        // the backtick run length of an open code span, 0 if none
	for _, line := range strings.SplitAfter(md, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		if fence != "" {
			b.WriteString(line)
			if strings.HasPrefix(trimmed, fence) && strings.TrimSpace(strings.TrimLeft(trimmed, fence[:1])) == "" {
				fence = ""
			}
			continue
		}
		if len(line)-len(trimmed) < 4 && (strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~")) {
			c := trimmed[:1]
			n := len(trimmed) - len(strings.TrimLeft(trimmed, c))
			fence = strings.Repeat(c, n)
			span = 0
			b.WriteString(line)
			continue
		}
		if strings.TrimSpace(line) == "" {
			span = 0 // a code span ends with its paragraph
		}
		for j := 0; j < len(line); j++ {
			c := line[j]
			switch {
			case c == '`':
				n := 1
				for j+n < len(line) && line[j+n] == '`' {
					n++
				}
				switch {
				case span == 0:
					span = n
				case span == n:
					span = 0
				}
				b.WriteString(line[j : j+n])
				j += n - 1
				continue
			case c == '\\' && span == 0 && j+1 < len(line):
				b.WriteString(line[j : j+2]) // an escape the model wrote stays one
				j++
				continue
			case c == '<' && span == 0:
				b.WriteByte('\\')
			case c == '&' && span == 0:
				b.WriteString("&amp;") // "\&" would not stop "&amp;" being read as "&"
				continue
			}
			b.WriteByte(c)
		}
	}
	return b.String()
}
