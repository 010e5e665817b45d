package cli

import (
	"strings"
	"testing"
)

// TestStoreLinesAreText: what a remote store says about itself (its
// version, its node names, its errors) reaches the terminal as text, so a
// hostile or broken server cannot move the cursor or retitle the window.
func TestStoreLinesAreText(t *testing.T) {
	const esc = "\x1b]0;owned\x07\x1b[2J"
	for _, engine := range []*StatusStore{
		{Version: "1.35.2" + esc, Nodes: 3, NodesHealthy: 2, Unhealthy: []string{"node1" + esc + ": down"}, Replication: 3},
		{Error: "meta: " + esc},
	} {
		var b strings.Builder
		writeStoreLines(&b, engine)
		if strings.ContainsAny(b.String(), "\x1b\x07") {
			t.Errorf("status prints terminal controls from the server: %q", b.String())
		}
		if !strings.Contains(b.String(), "ingest:       not reported by Weaviate") {
			t.Errorf("status lost its ingest line: %q", b.String())
		}
	}
	var b strings.Builder
	writeStoreLines(&b, nil)
	if b.Len() != 0 {
		t.Errorf("a local index printed store lines: %q", b.String())
	}
}
