package extract

import (
	"strings"
	"testing"
)

func TestCleanText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain text is unchanged", "héllo\tworld\n", "héllo\tworld\n"},
		{"sgr colour", "\x1b[1;31mred\x1b[0m", "red"},
		{"cursor movement", "a\x1b[2Jb\x1b[10;20Hc", "abc"},
		{"private csi", "\x1b[?25lhidden cursor\x1b[?25h", "hidden cursor"},
		{"osc hyperlink with bel", "\x1b]8;;http://x\x07link\x1b]8;;\x07", "link"},
		{"osc title with st", "\x1b]0;pwned\x1b\\text", "text"},
		{"unterminated osc stops at the newline", "\x1b]0;title\nnext", "\nnext"},
		{"csi cannot swallow a newline", "\x1b[12\nx", "\nx"},
		{"two-byte escapes", "\x1b7a\x1b8\x1bcb", "ab"},
		{"charset designation", "\x1b(Bx", "x"},
		{"lone esc at the end", "x\x1b", "x"},
		{"c0 controls", "a\x00b\x07c\x08d\x7fe", "abcde"},
		{"8-bit csi", "a\u009b31mb", "ab"},
		{"8-bit osc", "a\u009d0;t\u009cb", "ab"},
		{"c1 control", "a\u0085b", "ab"},
		{"crlf", "a\r\nb\r\n", "a\nb\n"},
		{"lone cr", "50%\r60%", "50% 60%"},
		{"invalid utf-8", "a\xffb", "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CleanText(tt.in)
			if got != tt.want {
				t.Errorf("CleanText(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if strings.Count(got, "\n") != strings.Count(strings.ReplaceAll(tt.in, "\r\n", "\n"), "\n") {
				t.Errorf("CleanText(%q) changed the number of lines", tt.in)
			}
			if again := CleanText(got); again != got {
				t.Errorf("CleanText is not idempotent: %q -> %q", got, again)
			}
		})
	}
}
