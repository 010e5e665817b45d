package lexical

import (
	"strings"
	"testing"
)

var benchText = strings.Repeat("Alzheimer's disease patients showed increased IL-6 and TNF-α levels (p < 0.05) compared with controls; ERR_CONN_RESET at v1.2.3. ", 10)

// BenchmarkDocument measures analysis alone, on scientific prose of about the
// size of one SciFact abstract.
func BenchmarkDocument(b *testing.B) {
	b.SetBytes(int64(len(benchText)))
	for b.Loop() {
		Document(benchText)
	}
}
