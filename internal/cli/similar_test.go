package cli_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ragcli/rag/internal/cli"
	"github.com/ragcli/rag/internal/iostreams"
	"github.com/ragcli/rag/internal/ollamatest"
)

// TestSimilarAlignedOnTerminal: on a terminal the matrix is an aligned table
// with numbered texts, not tab-separated.
func TestSimilarAlignedOnTerminal(t *testing.T) {
	srv := ollamatest.New(t, ollamatest.Model{Name: "all-minilm", Embedding: true, Dim: 384})
	home := t.TempDir()
	env := map[string]string{"OLLAMA_HOST": srv.URL, "HOME": home, "XDG_DATA_HOME": home, "XDG_CONFIG_HOME": home}
	var out, errb strings.Builder
	s := iostreams.Test(strings.NewReader(""), &out, &errb)
	s.OutTTY = true
	code := cli.Main(context.Background(), []string{"similar", "I love programming", "I enjoy coding", "I hate Mondays"}, s, func(k string) string { return env[k] })
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	want := `        [1]     [2]     [3]
[1]   1.000   0.333   0.333
[2]   0.333   1.000   0.333
[3]   0.333   0.333   1.000

[1] I love programming
[2] I enjoy coding
[3] I hate Mondays
`
	if out.String() != want {
		t.Errorf("got\n%q\nwant\n%q", out.String(), want)
	}
}
