package ollamareal

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/chunk"
	"github.com/ragcli/rag/internal/config"
	"github.com/ragcli/rag/internal/extract"
	"github.com/ragcli/rag/internal/shareddata"
)

// corpusFiles is how many files of each shared corpus the suite ingests.
// The whole of hugo-docs (994 files) and otel-docs (770) would take about
// 2 and 4 minutes of embedding at the tiny model's 44 inputs/s on 2 cores;
// an evenly spread sample keeps the suite within its CI budget while still
// covering every kind of page (RAG_TEST_OLLAMA_FILES raises it; 0 = all).
const corpusFiles = 20

// sample copies an evenly spread, sorted sample of a corpus's Markdown
// files into a new folder (flattening their paths) and returns it.
func sample(t *testing.T, name string) string {
	t.Helper()
	src := shareddata.Dir(t, name)
	var files []string
	filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	n := corpusFiles
	if v := os.Getenv("RAG_TEST_OLLAMA_FILES"); v != "" {
		fmt.Sscan(v, &n)
	}
	if n > 0 && len(files) > n {
		step := float64(len(files)) / float64(n)
		var picked []string
		for i := range n {
			picked = append(picked, files[int(float64(i)*step)])
		}
		files = picked
	}
	dst := filepath.Join(t.TempDir(), name)
	for _, f := range files {
		rel, _ := filepath.Rel(src, f)
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dst, strings.ReplaceAll(rel, string(filepath.Separator), "__"))
		os.MkdirAll(filepath.Dir(out), 0o755)
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%s: %d files sampled", name, len(files))
	return dst
}

// reportJSON decodes an ingest --json report.
type ingestReport struct {
	Added          int    `json:"added"`
	Failed         int    `json:"failed"`
	ChunksEmbedded int    `json:"chunks_embedded"`
	ChunksPending  int    `json:"chunks_pending"`
	EmbedError     string `json:"embed_error"`
	Seconds        float64
}

func parseReport(t *testing.T, r ragResult) ingestReport {
	t.Helper()
	var rep ingestReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("ingest --json output: %v\n%s", err, r.stdout)
	}
	return rep
}

var (
	embed400 = regexp.MustCompile(`\| 400 \|[^\n]*"/api/embed"`)
	embedAny = regexp.MustCompile(`\| \d{3} \|[^\n]*"/api/embed"`)
)

// TestIngestCorpora: the shared corpora through the real embedder, with no
// chunk refused as over the context (rag's budget agrees with the real
// WordPiece tokenizer) and none truncated (rag sends truncate:false); with
// rag's own overhead per chunk measured against the time the server spent.
func TestIngestCorpora(t *testing.T) {
	s := need(t)
	for _, name := range []string{"hugo-docs", "otel-docs"} {
		t.Run(name, func(t *testing.T) {
			docs := sample(t, name)
			dir := t.TempDir()
			p := newProxy(t, s.host)
			off := s.logSize()
			r := rag(t, p.URL, dir, nil, "ingest", "--json", "--index", filepath.Join(dir, "index"), docs)
			rep := parseReport(t, r)
			if r.code != 0 {
				t.Fatalf("ingest exit %d: %+v\n%s", r.code, rep, r.stderr)
			}
			if rep.Failed != 0 || rep.ChunksPending != 0 || rep.ChunksEmbedded == 0 {
				t.Errorf("report = %+v", rep)
			}
			log := s.logSince(off)
			if n := len(embed400.FindAllString(log, -1)); n != 0 {
				t.Errorf("the server refused %d embed requests (an input over the context): rag's token budget is too loose", n)
			}
			if strings.Contains(log, "input length exceeds") {
				t.Error("server log: an input exceeded the context length")
			}
			reqs := len(embedAny.FindAllString(log, -1))
			busy := p.embedBusy()
			figure(t, "%s: %d files, %d chunks in %d embed requests; ingest %.1fs, server busy %.1fs; %.0f chunks/s; rag overhead %.2f ms/chunk",
				name, rep.Added, rep.ChunksEmbedded, reqs, r.took.Seconds(), busy.Seconds(),
				float64(rep.ChunksEmbedded)/r.took.Seconds(), float64((r.took-busy).Microseconds())/1000/float64(rep.ChunksEmbedded))

			// The same index answers a search with both legs.
			sr := rag(t, s.host, dir, nil, "search", "--json", "--index", filepath.Join(dir, "index"), "configuration")
			if sr.code != 0 || !strings.Contains(sr.stdout, `"results"`) {
				t.Errorf("search: exit %d\n%s", sr.code, sr.stdout)
			}
		})
	}
}

// TestTokenEstimate compares rag's token estimate of each chunk with the
// count the real all-MiniLM tokenizer gives (prompt_eval_count of the chunk
// embedded alone, [CLS] and [SEP] included). The estimate must never be
// below the real count by more than the 10% the ingest budget keeps free.
func TestTokenEstimate(t *testing.T) {
	s := need(t)
	for _, name := range []string{"hugo-docs", "otel-docs"} {
		t.Run(name, func(t *testing.T) {
			docs := sample(t, name)
			var texts []string
			filepath.WalkDir(docs, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || len(texts) >= 60 {
					return nil
				}
				doc, err := extract.File(context.Background(), p, extract.Options{})
				if err != nil {
					return nil
				}
				for _, c := range chunk.Split(doc, chunk.Options{MaxTokens: config.DefaultChunkTokens}) {
					texts = append(texts, c.EmbedText(doc.Title))
				}
				return nil
			})
			if len(texts) > 60 {
				texts = texts[:60]
			}
			var ratios []float64
			var est, real, under int
			no := false
			for _, text := range texts {
				var resp struct {
					PromptEvalCount int `json:"prompt_eval_count"`
				}
				if code := post(t, s.host, "/api/embed", map[string]any{"model": "all-minilm", "input": []string{text}, "truncate": &no}, &resp); code != 200 {
					t.Errorf("embed of a %d-token chunk: status %d", chunk.EstimateTokens(text), code)
					continue
				}
				e := chunk.EstimateTokens(text)
				est += e
				real += resp.PromptEvalCount
				ratios = append(ratios, float64(e)/float64(resp.PromptEvalCount))
				if float64(e) < 0.9*float64(resp.PromptEvalCount) {
					under++
				}
			}
			slices.Sort(ratios)
			if len(ratios) == 0 {
				t.Fatal("no chunks")
			}
			figure(t, "%s: %d chunks, estimate/real tokens: overall %.3f, median %.3f, min %.3f, max %.3f; %d chunks underestimated by more than 10%%",
				name, len(ratios), float64(est)/float64(real), ratios[len(ratios)/2], ratios[0], ratios[len(ratios)-1], under)
			if under > 0 {
				t.Errorf("%d of %d chunks have more real tokens than rag's estimate allows for", under, len(ratios))
			}
		})
	}
}

// ingestSmall ingests a sample into a new index and returns its folder.
func ingestSmall(t *testing.T, s *server, files int) (dir, index string) {
	t.Helper()
	dir = t.TempDir()
	docs := filepath.Join(dir, "docs")
	src := sample(t, "hugo-docs")
	entries, _ := os.ReadDir(src)
	os.MkdirAll(docs, 0o755)
	for i, e := range entries {
		if i >= files {
			break
		}
		b, _ := os.ReadFile(filepath.Join(src, e.Name()))
		os.WriteFile(filepath.Join(docs, e.Name()), b, 0o644)
	}
	index = filepath.Join(dir, "index")
	r := rag(t, s.host, dir, nil, "ingest", "--index", index, docs)
	if r.code != 0 {
		t.Fatalf("ingest: exit %d\n%s", r.code, r.stderr)
	}
	return dir, index
}

var runnerStarted = regexp.MustCompile(`llama runner started in`)

// TestAskStreamsWithinItsWindow: a plain ask streams its answer, sends a
// num_ctx that holds the prompt (the server log shows no truncation), and
// reports the runner reloads that consecutive asks cost.
func TestAskStreamsWithinItsWindow(t *testing.T) {
	s := need(t)
	dir, index := ingestSmall(t, s, 8)
	off := s.logSize()
	questions := []string{
		"how do I configure the server",
		"what does the build command do with templates and content in a multilingual site with many sections",
		"menus",
	}
	for _, q := range questions {
		r := rag(t, s.host, dir, nil, "ask", "--index", index, q)
		if r.code != 0 {
			t.Fatalf("ask: exit %d\n%s", r.code, r.stderr)
		}
		if strings.TrimSpace(r.stdout) == "" {
			t.Error("ask printed no answer")
		}
	}
	log := s.logSince(off)
	if strings.Contains(log, "truncating input prompt") {
		t.Error(`server log: "truncating input prompt": rag's num_ctx did not hold its prompt`)
	}
	figure(t, "%d consecutive asks: %d runner starts in the server log", len(questions), len(runnerStarted.FindAllString(log, -1)))

	// --json gives the whole answer at the end, with its sources.
	r := rag(t, s.host, dir, nil, "ask", "--json", "--index", index, "menus")
	var out struct {
		Answer  string `json:"answer"`
		Sources []any  `json:"sources"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || out.Answer == "" || len(out.Sources) == 0 {
		t.Errorf("ask --json: exit %d, %q", r.code, r.stdout)
	}
}

// TestDeepUsesTheRealGrammar: --deep asks for structured output; the real
// server's grammar makes every reply valid JSON of the schema, so no part
// fails as unparsable. Runner reloads across the run are reported.
func TestDeepUsesTheRealGrammar(t *testing.T) {
	s := need(t)
	dir, index := ingestSmall(t, s, 8)
	off := s.logSize()
	r := rag(t, s.host, dir, nil, "ask", "--deep", "--index", index, "compare how menus and taxonomies are configured")
	if r.code != 0 && r.code != 3 {
		t.Fatalf("ask --deep: exit %d\n%s", r.code, r.stderr)
	}
	// The tiny model's random weights never close a JSON string, so its
	// replies stop at the Modelfile's num_predict (48): rag must say the
	// reply was cut there. A finished reply that is not valid JSON would mean
	// the grammar or rag's schema is wrong.
	if strings.Contains(r.stderr, "not valid JSON") {
		t.Errorf("a structured reply was not valid JSON:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, "not usable") && !strings.Contains(r.stderr, "cut at the model's output limit") {
		t.Errorf("the plan was refused for another reason than the output limit:\n%s", r.stderr)
	}
	log := s.logSince(off)
	if strings.Contains(log, "truncating input prompt") {
		t.Error(`server log: "truncating input prompt" during --deep`)
	}
	figure(t, "ask --deep: exit %d, %d runner starts, %d chat requests", r.code,
		len(runnerStarted.FindAllString(log, -1)), strings.Count(log, `"/api/chat"`))
}

// TestEvalBEIRSubset: rag eval on a small slice of SciFact through the real
// embedder, hybrid.
func TestEvalBEIRSubset(t *testing.T) {
	s := need(t)
	src := shareddata.Dir(t, "scifact")
	dir := t.TempDir()
	beir := filepath.Join(dir, "scifact-mini")
	os.MkdirAll(filepath.Join(beir, "qrels"), 0o755)

	// The first 15 test queries, their relevant documents and 60 others.
	qrels, err := os.ReadFile(filepath.Join(src, "qrels", "test.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(qrels)), "\n")
	queries, docs := map[string]bool{}, map[string]bool{}
	var kept []string
	for i, l := range lines {
		f := strings.Split(l, "\t")
		if i == 0 || len(f) < 3 {
			kept = append(kept, l)
			continue
		}
		if len(queries) >= 15 && !queries[f[0]] {
			continue
		}
		queries[f[0]], docs[f[1]] = true, true
		kept = append(kept, l)
	}
	os.WriteFile(filepath.Join(beir, "qrels", "test.tsv"), []byte(strings.Join(kept, "\n")+"\n"), 0o644)
	copyJSONL(t, filepath.Join(src, "queries.jsonl"), filepath.Join(beir, "queries.jsonl"), func(id string, i int) bool { return queries[id] })
	others := 0
	copyJSONL(t, filepath.Join(src, "corpus.jsonl.gz"), filepath.Join(beir, "corpus.jsonl"), func(id string, i int) bool {
		if docs[id] {
			return true
		}
		others++
		return others <= 60
	})
	r := rag(t, s.host, dir, nil, "eval", "--beir", beir, "--split", "test", "--mode", "hybrid", "--json")
	if r.code != 0 {
		t.Fatalf("eval: exit %d\n%s", r.code, r.stderr)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("eval --json: %v\n%s", err, r.stdout)
	}
	if res["queries"] != float64(len(queries)) || res["mode"] != "hybrid" {
		t.Errorf("eval = %v", res)
	}
	figure(t, "eval on %d SciFact queries, %d documents, hybrid with random weights: ndcg@10 %v, in %.1fs", len(queries), len(docs)+60, res["ndcg@10"], r.took.Seconds())
}

func copyJSONL(t *testing.T, src, dst string, keep func(id string, i int) bool) {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var sc *bufio.Scanner
	if strings.HasSuffix(src, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		sc = bufio.NewScanner(gz)
	} else {
		sc = bufio.NewScanner(f)
	}
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var out strings.Builder
	for i := 0; sc.Scan(); i++ {
		var rec struct {
			ID string `json:"_id"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && keep(rec.ID, i) {
			out.Write(sc.Bytes())
			out.WriteByte('\n')
		}
	}
	os.WriteFile(dst, []byte(out.String()), 0o644)
}

// TestDoctor: rag doctor against the real server sees both models.
func TestDoctor(t *testing.T) {
	s := need(t)
	dir, index := ingestSmall(t, s, 2)
	r := rag(t, s.host, dir, nil, "doctor", "--index", index)
	if strings.Contains(r.stderr, "unknown command") {
		t.Skip("rag doctor is not there yet")
	}
	if r.code != 0 {
		t.Errorf("doctor: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestFirstCallPaysTheLoad: with the models unloaded, the first embedding
// and the first answer load them, within rag's first-call allowance.
func TestFirstCallPaysTheLoad(t *testing.T) {
	s := need(t)
	dir, index := ingestSmall(t, s, 2)
	s.unload(t)
	var resp struct {
		LoadDuration time.Duration `json:"load_duration"`
	}
	start := time.Now()
	post(t, s.host, "/api/embed", map[string]any{"model": "all-minilm", "input": []string{"first"}}, &resp)
	embedLoad, embedWall := resp.LoadDuration, time.Since(start)
	s.unload(t)
	r := rag(t, s.host, dir, nil, "search", "--mode", "vector", "--index", index, "first call")
	if r.code != 0 {
		t.Errorf("search after an unload: exit %d\n%s", r.code, r.stderr)
	}
	s.unload(t)
	start = time.Now()
	var chat struct {
		LoadDuration time.Duration `json:"load_duration"`
		EvalCount    int           `json:"eval_count"`
		EvalDuration time.Duration `json:"eval_duration"`
	}
	post(t, s.host, "/api/chat", map[string]any{"model": "llama3.2", "stream": false, "options": map[string]any{"seed": 1},
		"messages": []map[string]string{{"role": "user", "content": "hello"}}}, &chat)
	chatWall := time.Since(start)
	r = rag(t, s.host, dir, nil, "ask", "--index", index, "first call")
	if r.code != 0 {
		t.Errorf("ask after an unload: exit %d\n%s", r.code, r.stderr)
	}
	figure(t, "first-call load: all-minilm load_duration %s (call %s), llama3.2 load_duration %s (call %s); chat %.0f tokens/s",
		embedLoad.Round(time.Millisecond), embedWall.Round(time.Millisecond), chat.LoadDuration.Round(time.Millisecond), chatWall.Round(time.Millisecond),
		float64(chat.EvalCount)/math.Max(chat.EvalDuration.Seconds(), 1e-9))
}

// TestThroughputAndMemory measures embedding inputs/s (batches of 32 chunks
// of about 200 tokens) and the peak memory of server and runners.
func TestThroughputAndMemory(t *testing.T) {
	s := need(t)
	text := strings.Repeat("the server embeds this sentence of ordinary words for a test. ", 16) // ~200 tokens
	batch := make([]string, 32)
	for i := range batch {
		batch[i] = fmt.Sprintf("%d %s", i, text)
	}
	post(t, s.host, "/api/embed", map[string]any{"model": "all-minilm", "input": batch[:1]}, nil) // loaded
	start := time.Now()
	n := 0
	for range 4 {
		var resp struct {
			Embeddings [][]float32 `json:"embeddings"`
		}
		if code := post(t, s.host, "/api/embed", map[string]any{"model": "all-minilm", "input": batch}, &resp); code != 200 {
			t.Fatalf("embed: %d", code)
		}
		n += len(resp.Embeddings)
	}
	figure(t, "embedding: %.0f inputs/s at ~200 tokens, batches of 32", float64(n)/time.Since(start).Seconds())
	var chat struct {
		EvalCount    int           `json:"eval_count"`
		EvalDuration time.Duration `json:"eval_duration"`
	}
	post(t, s.host, "/api/chat", map[string]any{"model": "llama3.2", "stream": false, "options": map[string]any{"seed": 2, "num_ctx": 2048},
		"messages": []map[string]string{{"role": "user", "content": "write about servers"}}}, &chat)
	figure(t, "chat: %d tokens at %.0f tokens/s", chat.EvalCount, float64(chat.EvalCount)/math.Max(chat.EvalDuration.Seconds(), 1e-9))
	var runners []string
	for _, pid := range s.runners() {
		runners = append(runners, fmt.Sprintf("%.0f MB", peakRSS(pid)))
	}
	figure(t, "peak RSS: server %.0f MB, runners %s", peakRSS(s.pid), strings.Join(runners, ", "))
}
