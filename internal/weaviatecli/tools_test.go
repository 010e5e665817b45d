package weaviatecli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/ragcli/rag/internal/weaviatetest"
)

// repoRoot is the module's root folder, for its testdata.
func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// writePlanted writes the files of testdata/script/audit_planted.txtar (an
// exact duplicate, a stale near twin, an old file, two contradicting pairs)
// under dir/planted, with the same ages as that script gives them.
func (e *env) writePlanted() string {
	a, err := txtar.ParseFile(filepath.Join(repoRoot(e.t), "testdata", "script", "audit_planted.txtar"))
	if err != nil {
		e.t.Fatal(err)
	}
	for _, f := range a.Files {
		e.write(filepath.Join("planted", strings.TrimPrefix(f.Name, "docs/")), string(f.Data))
	}
	for name, days := range map[string]int{"old/guide.md": 500, "ancient.md": 400} {
		old := time.Now().Add(-time.Duration(days) * 24 * time.Hour)
		if err := os.Chtimes(filepath.Join(e.dir, "planted", name), old, old); err != nil {
			e.t.Fatal(err)
		}
	}
	return filepath.Join(e.dir, "planted")
}

// jsonWithout decodes a --json document and drops the named top-level keys
// (the store's location differs between the two stores).
func jsonWithout(t *testing.T, doc string, drop ...string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, doc)
	}
	for _, k := range drop {
		delete(m, k)
	}
	return m
}

// TestAuditExportStatusAgainstWeaviate: rag audit and rag export finetune
// give a Weaviate store's data the same output as the local index holding
// the same files, and rag status says what the server reports of itself
// and what it does not report.
func TestAuditExportStatusAgainstWeaviate(t *testing.T) {
	n := weaviatetest.Start(t, weaviatetest.Options{})
	e := newEnv(t)
	url := "weaviate://" + n.HTTPAddr + "/Tools"
	idx := filepath.Join(e.dir, "index")
	docs := e.writePlanted()
	local := func(args ...string) []string { return append([]string{"--index", idx}, args...) }
	remote := func(args ...string) []string { return append([]string{"--store", url}, args...) }
	e.must(0, nil, local("ingest", "-q", docs)...)
	e.must(0, nil, remote("ingest", "-q", docs)...)

	// rag audit: the same report, in JSON (but for the index's name) and in text.
	for _, args := range [][]string{{"audit", "--json"}, {"audit", "--json", "--stale-after", "1000d", filepath.Join(docs, "old")}} {
		code, lout, lerr := e.run(local(args...)...)
		if code != 0 {
			t.Fatalf("local rag %s: exit %d: %s", strings.Join(args, " "), code, lerr)
		}
		code, rout, rerr := e.run(remote(args...)...)
		if code != 0 {
			t.Fatalf("rag --store %s %s: exit %d: %s", url, strings.Join(args, " "), code, rerr)
		}
		if got := jsonWithout(t, rout)["index"]; got != url {
			t.Errorf("audit --json index: %v, want %s", got, url)
		}
		l, r := jsonWithout(t, lout, "index"), jsonWithout(t, rout, "index")
		if !reflect.DeepEqual(l, r) {
			t.Errorf("rag %s: the Weaviate store's report differs from the local index's\nlocal:    %s\nweaviate: %s", strings.Join(args, " "), lout, rout)
		}
		if len(args) == 2 {
			// The planted findings are there (a report of nothing would also be equal).
			var rep struct {
				Files          int
				DuplicateFiles []any `json:"duplicate_files"`
				NearDuplicates []any `json:"near_duplicates"`
				Stale          []any
				Contradictions []any
			}
			json.Unmarshal([]byte(rout), &rep)
			if rep.Files != 10 || len(rep.DuplicateFiles) != 1 || len(rep.NearDuplicates) != 1 || len(rep.Stale) != 3 || len(rep.Contradictions) != 2 {
				t.Errorf("audit of the planted data through Weaviate: %s", rout)
			}
		}
	}
	_, ltext, _ := e.run(local("audit")...)
	_, rtext, _ := e.run(remote("audit")...)
	if ltext != rtext || !strings.Contains(rtext, "Possible contradictions (2 pairs)") {
		t.Errorf("rag audit text differs\nlocal:\n%s\nweaviate:\n%s", ltext, rtext)
	}
	if stderr := e.must(3, nil, remote("audit", "--fail-on", "duplicates,contradictions")...); !strings.Contains(stderr, "audit found duplicates, contradictions") {
		t.Errorf("audit --fail-on against Weaviate: %s", stderr)
	}

	// rag export finetune: the same examples, retrieved through each store
	// (lexical mode: no model needed; the questions avoid the identical
	// files and the two release notes, whose equal scores are ordered by
	// ids, which differ between stores).
	qs := filepath.Join(e.dir, "qs")
	gen := func(q, answer, file string, start, end int, text string) string {
		b, _ := json.Marshal(map[string]any{"question": q, "expected": []string{filepath.Join(docs, file)}, "answer": answer,
			"source": map[string]any{"path": filepath.Join(docs, file), "start_line": start, "end_line": end, "text": text}})
		return string(b) + "\n"
	}
	e.write("qs/train.jsonl", gen("What is the default timeout of requests?", "10s.", "config.md", 1, 3, "The default timeout is 10s.")+
		gen("Where do logs go?", "To the journal.", "config.md", 5, 7, "Logs go to the journal unless a log file is named in the settings.")+
		gen("What does the steering group receive?", "Weekly reports.", "notes-a.md", 5, 7, "Every team keeps its own backlog and reports weekly to the steering group."))
	e.write("qs/test.jsonl", gen("What comes with the soup of the day?", "Bread and a seasonal salad.", "ancient.md", 1, 3, "Soup of the day, bread and a seasonal salad."))
	for _, st := range []struct {
		out  string
		args func(...string) []string
	}{{"ft-local", local}, {"ft-weaviate", remote}} {
		var rep struct{ Train, Test int }
		e.must(0, &rep, st.args("export", "finetune", "--json", "--from", qs, "--out", filepath.Join(e.dir, st.out), "-k", "2", "--mode", "lexical")...)
		if rep.Train != 3 || rep.Test != 1 {
			t.Errorf("export finetune into %s: %+v", st.out, rep)
		}
	}
	for _, f := range []string{"train.jsonl", "test.jsonl"} {
		l, _ := os.ReadFile(filepath.Join(e.dir, "ft-local", f))
		r, err := os.ReadFile(filepath.Join(e.dir, "ft-weaviate", f))
		if err != nil || len(l) == 0 || string(l) != string(r) {
			t.Errorf("export finetune %s differs (%v)\nlocal:    %s\nweaviate: %s", f, err, l, r)
		}
	}

	// rag status: the server's own figures; no size and no running ingest,
	// said as such.
	var st struct {
		Files, Chunks int
		SizeBytes     *int64 `json:"size_bytes"`
		Store         *struct {
			Engine, Version string
			Nodes           int
			NodesHealthy    int      `json:"nodes_healthy"`
			Replication     int      `json:"replication_factor"`
			NotReported     []string `json:"not_reported"`
		}
	}
	e.must(0, &st, remote("status", "--json")...)
	if st.Files != 10 || st.SizeBytes != nil || st.Store == nil || st.Store.Engine != "weaviate" || st.Store.Version != "1.35.2" ||
		st.Store.Nodes != 1 || st.Store.NodesHealthy != 1 || st.Store.Replication != 1 ||
		!slices.Equal(st.Store.NotReported, []string{"size_bytes", "ingest"}) {
		t.Errorf("status --json of the Weaviate store: %+v %+v", st, st.Store)
	}
	_, text, _ := e.run(remote("status")...)
	for _, want := range []string{"size:         not reported by Weaviate", "server:       weaviate 1.35.2, nodes 1 of 1 healthy, replication factor 1", "ingest:       not reported by Weaviate"} {
		if !strings.Contains(text, want) {
			t.Errorf("status: no %q in\n%s", want, text)
		}
	}
	st.Store, st.SizeBytes = nil, nil
	e.must(0, &st, local("status", "--json")...)
	if st.Store != nil || st.SizeBytes == nil || *st.SizeBytes == 0 {
		t.Errorf("status --json of the local index: size %v, store %+v", st.SizeBytes, st.Store)
	}
}
