package weaviate

import "testing"

// TestGenerationNames: a store's generations are told from other stores'
// collections on the same server, whose base names may start alike.
func TestGenerationNames(t *testing.T) {
	for _, tc := range []struct {
		class string
		gen   int
		ok    bool
	}{
		{"RagChunks", 0, true},
		{"RagFiles", 0, true},
		{"RagChunks_3", 3, true},
		{"RagFiles_12", 12, true},
		{"RagLive", 0, false},
		{"RagChunks_", 0, false},
		{"RagChunks_0", 0, false},
		{"RagChunks_2x", 0, false},
		{"RagFilesChunks", 0, false}, // store RagFiles's generation 0
		{"RagFilesChunks_2", 0, false},
		{"Rag_2Chunks", 0, false},
		{"OtherChunks", 0, false},
	} {
		g, ok := generationOf("Rag", tc.class)
		if ok != tc.ok || ok && g != tc.gen {
			t.Errorf("generationOf(Rag, %s) = %d, %v; want %d, %v", tc.class, g, ok, tc.gen, tc.ok)
		}
	}
	for gen := range 3 {
		chunks, files := classes("Rag", gen)
		for _, c := range []string{chunks, files} {
			if g, ok := generationOf("Rag", c); !ok || g != gen {
				t.Errorf("generation %d's collection %s parses as %d, %v", gen, c, g, ok)
			}
		}
	}
}
