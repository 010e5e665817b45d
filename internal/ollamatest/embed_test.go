package ollamatest

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func cos(a, b []float32) float64 {
	var dot float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
	}
	return dot
}

func TestEmbedDeterministicAndNormalised(t *testing.T) {
	for _, text := range []string{"", "...", "hello", "The quick brown fox jumps over the lazy dog.", "a a a b"} {
		v := Embed(text, 384)
		if len(v) != 384 {
			t.Fatalf("Embed(%q): len %d", text, len(v))
		}
		if n := math.Sqrt(cos(v, v)); math.Abs(n-1) > 1e-5 {
			t.Errorf("Embed(%q): norm %v, want 1", text, n)
		}
		if !slices.Equal(v, Embed(text, 384)) {
			t.Errorf("Embed(%q) is not deterministic", text)
		}
	}
	if Embed("x", 0) != nil {
		t.Error("Embed with dim 0 is not nil")
	}
}

func TestEmbedSimilarForSharedWords(t *testing.T) {
	query := Embed("how do I configure the ollama host", 384)
	related := Embed("To configure the Ollama host, set OLLAMA_HOST.", 384)
	unrelated := Embed("Bananas are yellow fruit rich in potassium", 384)
	if r, u := cos(query, related), cos(query, unrelated); r <= u || r < 0.3 {
		t.Errorf("cos(related) = %.3f, cos(unrelated) = %.3f; want related clearly higher", r, u)
	}
	if c := cos(Embed("Hello World", 384), Embed("hello, world!", 384)); math.Abs(c-1) > 1e-5 {
		t.Errorf("case and punctuation change the vector: cos = %v", c)
	}
}

func TestCountTokens(t *testing.T) {
	tests := []struct {
		text string
		want int
	}{
		{"", 0},
		{"   \n\t", 0},
		{"hello", 1},
		{"Hello, world!", 4},
		{"don't", 3},
		{"x1 y2 — z", 4},
		{"naïve café", 2},
		{"\xff\xfe", 2}, // invalid UTF-8: one token per bad byte
	}
	for _, tt := range tests {
		if got := CountTokens(tt.text); got != tt.want {
			t.Errorf("CountTokens(%q) = %d, want %d", tt.text, got, tt.want)
		}
	}
}

func TestTruncateTokens(t *testing.T) {
	tests := []struct {
		text string
		n    int
		want string
	}{
		{"one two three", 2, "one two"},
		{"one, two", 2, "one,"},
		{"one two", 5, "one two"},
		{"one two", 0, ""},
		{"  lead", 1, "  lead"},
	}
	for _, tt := range tests {
		got := TruncateTokens(tt.text, tt.n)
		if got != tt.want {
			t.Errorf("TruncateTokens(%q, %d) = %q, want %q", tt.text, tt.n, got, tt.want)
		}
		if CountTokens(got) > tt.n {
			t.Errorf("TruncateTokens(%q, %d) keeps %d tokens", tt.text, tt.n, CountTokens(got))
		}
	}
}

func TestChunksRejoin(t *testing.T) {
	for _, text := range []string{"", "one", "  a b c d e f g  ", "According to the sources, x [1].\n\nMore text here [2]."} {
		pieces := chunks(text, 3)
		if got := strings.Join(pieces, ""); got != text {
			t.Errorf("chunks(%q) rejoin to %q", text, got)
		}
		for _, p := range pieces {
			if len(strings.Fields(p)) > 3 {
				t.Errorf("chunks(%q): piece %q has more than 3 words", text, p)
			}
		}
	}
}

func TestParseModel(t *testing.T) {
	tests := []struct {
		spec    string
		want    Model
		wantErr bool
	}{
		{spec: "all-minilm:embed:384:512", want: Model{Name: "all-minilm", Embedding: true, Dim: 384, ContextLength: 512}},
		{spec: "llama3.2:chat:0:8192", want: Model{Name: "llama3.2", ContextLength: 8192}},
		{spec: "llama3.2:3b:chat:0:8192", want: Model{Name: "llama3.2:3b", ContextLength: 8192}},
		{spec: "x:vision:0:1", wantErr: true},
		{spec: "x:embed:abc:1", wantErr: true},
		{spec: "x:embed:384", wantErr: true},
		{spec: ":embed:384:512", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseModel(tt.spec)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseModel(%q) = %+v, %v", tt.spec, got, err)
		}
	}
}

func TestListenOnlyLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "localhost:0", "[::1]:0"} {
		if s, err := Listen(addr); err == nil {
			s.Close()
			t.Errorf("Listen(%q) succeeded", addr)
		}
	}
}
