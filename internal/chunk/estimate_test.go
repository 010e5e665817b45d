package chunk

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEstimateTokens(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int // exact estimate, pinned so a change is seen
		min  int // a floor that a real tokenizer reaches
	}{
		{"empty", "", 2, 2},
		{"spaces only", " \t\n\u00a0\u3000", 2, 2},
		{"one short word", "the", 3, 3},
		{"punctuation each", "a, b.", 6, 6},
		{"english sentence", "The quick brown fox jumps over the lazy dog.", 18, 2 + 9 + 1},
		{"long word", "internationalization", 8, 3},
		{"camel case", "getElementById", 7, 2 + 4},
		{"digits", "1234567", 6, 2 + 3},
		{"year", "1805", 4, 3},
		{"accented latin", "café résumé", 5, 4},
		{"cjk one per rune", "野口里佳", 6, 6},
		{"kana and hangul", "ひらがなカタカナ한국어", 13, 13},
		{"cyrillic one per rune", "привет", 8, 3},
		{"emoji astral", "🙂", 4, 3},
		{"invalid bytes", "\xff\xfe", 4, 4},
		{"code", "func main() { fmt.Println(\"hi\") }", 20, 2 + 12},
		{"random lower", "xqzvkjwpfh", 12, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := EstimateTokens(tt.in)
			if got != tt.want {
				t.Errorf("EstimateTokens(%q) = %d, want %d", tt.in, got, tt.want)
			}
			if got < tt.min {
				t.Errorf("EstimateTokens(%q) = %d, below the floor %d", tt.in, got, tt.min)
			}
		})
	}
}

// TestEstimateTokensFloors checks lower bounds that any WordPiece or BPE
// tokenizer meets: one token per English word, one per CJK rune, one per
// punctuation mark.
func TestEstimateTokensFloors(t *testing.T) {
	prose := strings.Repeat("It was in July, 1805, and the speaker was the well-known Anna Pavlovna Scherer. ", 50)
	cjk := strings.Repeat("日本語の文章を正しく数える。", 50)
	tests := []struct {
		name  string
		in    string
		floor int
	}{
		{"words", prose, 2 + len(strings.Fields(prose))},
		{"words and punctuation", prose, 2 + len(strings.Fields(prose)) + strings.Count(prose, ",") + strings.Count(prose, ".") + strings.Count(prose, "-")},
		{"cjk runes", cjk, 2 + utf8.RuneCountInString(cjk)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EstimateTokens(tt.in); got < tt.floor {
				t.Errorf("EstimateTokens = %d, below floor %d", got, tt.floor)
			}
		})
	}
}

// TestEstimateTokensAdditive guards what Split relies on: the estimate of
// pieces joined by whitespace is the sum of their estimates.
func TestEstimateTokensAdditive(t *testing.T) {
	parts := []string{"Title > Heading", "some text, with 123 numbers", "野口", "getElementById()", "🙂x"}
	sum := 2
	for _, p := range parts {
		sum += cost(p)
	}
	if got := EstimateTokens(strings.Join(parts, "\n\n")); got != sum {
		t.Errorf("estimate of joined parts = %d, sum of parts = %d", got, sum)
	}
}

func TestTruncateTokens(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 5, "short"},
		{"one two three four five", 3, "one two"}, // a word boundary beats one more token
		{"野口里佳", 2, "野口"},
		{"abcdefgh", 1, "ab"},
		{"onetwothree", 2, "onetwoth"},
	}
	for _, tt := range tests {
		if got := truncateTokens(tt.in, tt.n); got != tt.want {
			t.Errorf("truncateTokens(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func BenchmarkEstimateTokens(b *testing.B) {
	s := syntheticMarkdown(1 << 20)
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		EstimateTokens(s)
	}
}
