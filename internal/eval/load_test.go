package eval

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// writeFiles creates files (path relative to dir -> content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		data := []byte(content)
		if strings.HasSuffix(name, ".gz") {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(data)
			zw.Close()
			data = b.Bytes()
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var goodBEIR = map[string]string{
	"corpus.jsonl": `{"_id": "d1", "title": "T1", "text": "one", "metadata": {}}
{"_id": 2, "text": "two"}

{"_id": "d/3", "title": "T3", "text": "caf\u00e9"}
`,
	"queries.jsonl": "\uFEFF" + `{"_id": "q9", "text": "nine", "metadata": {"d1": []}}
{"_id": "q1", "text": "one"}
{"_id": "q2", "text": "two"}
`,
	"qrels/test.tsv":  "query-id\tcorpus-id\tscore\r\nq1\td1\t1\r\nq9\t2\t2\r\nq9\tmissing\t0\r\n",
	"qrels/train.tsv": "q2\td/3\t1\n",
}

func TestLoadBEIR(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, goodBEIR)
	c, err := LoadBEIR(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	wantDocs := []Doc{{"d1", "T1", "one"}, {"2", "", "two"}, {"d/3", "T3", "café"}}
	if !reflect.DeepEqual(c.Docs, wantDocs) {
		t.Errorf("docs = %+v, want %+v", c.Docs, wantDocs)
	}
	wantQ := []Query{{"q9", "nine"}, {"q1", "one"}}
	if !reflect.DeepEqual(c.Queries, wantQ) {
		t.Errorf("queries = %+v, want %+v (judged only, file order)", c.Queries, wantQ)
	}
	wantQrels := Qrels{"q1": {"d1": 1}, "q9": {"2": 2, "missing": 0}}
	if !reflect.DeepEqual(c.Qrels, wantQrels) {
		t.Errorf("qrels = %v, want %v", c.Qrels, wantQrels)
	}
	if c.Name != filepath.Base(dir) {
		t.Errorf("name = %q, want %q", c.Name, filepath.Base(dir))
	}

	c, err = LoadBEIR(dir, "train")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Queries, []Query{{"q2", "two"}}) {
		t.Errorf("train queries = %+v", c.Queries)
	}
}

func TestLoadBEIRGzip(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{}
	for k, v := range goodBEIR {
		if k == "corpus.jsonl" {
			k += ".gz"
		}
		files[k] = v
	}
	writeFiles(t, dir, files)
	c, err := LoadBEIR(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Docs) != 3 || c.Docs[2].Text != "café" {
		t.Errorf("docs from gzip = %+v", c.Docs)
	}
}

func TestLoadBEIRErrors(t *testing.T) {
	tests := []struct {
		name    string
		change  map[string]string // files replacing goodBEIR's; "" removes
		split   string
		file    string // file named in the error, relative to dir
		line    int
		errPart string
	}{
		{
			name:    "malformed corpus json",
			change:  map[string]string{"corpus.jsonl": "{\"_id\": \"a\"}\n{\"_id\": \"b\", \"text\": \n"},
			file:    "corpus.jsonl",
			line:    2,
			errPart: "parse json",
		},
		{
			name:    "corpus line without id",
			change:  map[string]string{"corpus.jsonl": "{\"title\": \"x\"}\n"},
			file:    "corpus.jsonl",
			line:    1,
			errPart: `missing "_id"`,
		},
		{
			name:    "duplicate doc id",
			change:  map[string]string{"corpus.jsonl": "{\"_id\": \"a\"}\n{\"_id\": \"b\"}\n{\"_id\": \"a\"}\n"},
			file:    "corpus.jsonl",
			line:    3,
			errPart: "first on line 1",
		},
		{
			name:    "malformed query json",
			change:  map[string]string{"queries.jsonl": "{\"_id\": \"q1\"}\r\nnot json\r\n"},
			file:    "queries.jsonl",
			line:    2,
			errPart: "parse json",
		},
		{
			name:    "bad id type",
			change:  map[string]string{"queries.jsonl": "{\"_id\": [1]}\n"},
			file:    "queries.jsonl",
			line:    1,
			errPart: "_id must be",
		},
		{
			name:    "qrels score not a number",
			change:  map[string]string{"qrels/test.tsv": "query-id\tcorpus-id\tscore\nq1\td1\thigh\n"},
			file:    "qrels/test.tsv",
			line:    2,
			errPart: "not an integer",
		},
		{
			name:    "qrels wrong field count",
			change:  map[string]string{"qrels/test.tsv": "q1 d1 1\n"},
			file:    "qrels/test.tsv",
			line:    1,
			errPart: "want 3",
		},
		{
			name:    "qrels unknown query",
			change:  map[string]string{"qrels/test.tsv": "q1\td1\t1\nq404\td1\t1\nq405\td1\t1\n"},
			file:    "qrels/test.tsv",
			line:    2,
			errPart: `query "q404"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{}
			for k, v := range goodBEIR {
				files[k] = v
			}
			for k, v := range tt.change {
				files[k] = v
			}
			writeFiles(t, dir, files)
			_, err := LoadBEIR(dir, tt.split)
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want a *LineError", err)
			}
			if le.File != filepath.Join(dir, tt.file) || le.Line != tt.line {
				t.Errorf("error at %s:%d, want %s:%d", le.File, le.Line, tt.file, tt.line)
			}
			want := filepath.Join(dir, tt.file) + ":" + strconv.Itoa(tt.line) + ":"
			if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tt.errPart) {
				t.Errorf("err = %q, want it to contain %q and %q", err, want, tt.errPart)
			}
		})
	}
}

func TestLoadBEIRMissingFiles(t *testing.T) {
	tests := []struct {
		name   string
		remove string
		split  string
		want   string
	}{
		{"no corpus", "corpus.jsonl", "test", "no corpus.jsonl or corpus.jsonl.gz"},
		{"no queries", "queries.jsonl", "test", "queries.jsonl"},
		{"no split", "", "dev", "dev.tsv"},
		{"bad split", "", "../x", "invalid split"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, goodBEIR)
			if tt.remove != "" {
				os.Remove(filepath.Join(dir, tt.remove))
			}
			_, err := LoadBEIR(dir, tt.split)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

const cranDocs = ".I 1\r\n.T\r\nwing in a\r\nslipstream .\r\n.A\r\nbrenckman,m.\r\n.B\r\nj. ae. scs. 25, 1958, 324.\r\n.W\r\nwing in a\r\nslipstream .\r\n  an experimental study of a wing\r\nwas made .\r\n  the results were\r\n good .\r\n" +
	".I 2\r\n.T\r\n.A\r\n.B\r\n.W\r\n" +
	".I 3\r\n.T\r\nshear flow .\r\n.W\r\nabstract without title .\r\n.W\r\nsecond part .\r\n"

const cranQry = ".I 001\r\n.W\r\nwhat similarity laws\r\nmust be obeyed .\r\n.I 004\r\n.W\r\nheat conduction .\r\n"

func TestLoadCranfield(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"cran.all.1400": cranDocs,
		"cran.qry":      cranQry,
		"cranqrel":      "1 3 1 \r\n1 2 4\r\n1 1 -1\r\n2 1 2\r\n2 1 3", // no final newline
	})
	c, err := LoadCranfield(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantDocs := []Doc{
		{"1", "wing in a slipstream .", "an experimental study of a wing was made .\n\nthe results were good ."},
		{"2", "", ""},
		{"3", "shear flow .", "abstract without title . second part ."},
	}
	if !reflect.DeepEqual(c.Docs, wantDocs) {
		t.Errorf("docs =\n%q\nwant\n%q", c.Docs, wantDocs)
	}
	wantQ := []Query{{"1", "what similarity laws must be obeyed ."}, {"2", "heat conduction ."}}
	if !reflect.DeepEqual(c.Queries, wantQ) {
		t.Errorf("queries = %q, want %q", c.Queries, wantQ)
	}
	wantQrels := Qrels{"1": {"3": 4, "2": 1, "1": 0}, "2": {"1": 3}}
	if !reflect.DeepEqual(c.Qrels, wantQrels) {
		t.Errorf("qrels = %v, want %v", c.Qrels, wantQrels)
	}
}

func TestLoadCranfieldErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		file  string
		line  int
		want  string
	}{
		{"bad record id", map[string]string{"cran.all.1400": ".I x\n"}, "cran.all.1400", 1, "not a number"},
		{"text before record", map[string]string{"cran.all.1400": "hello\n.I 1\n"}, "cran.all.1400", 1, "outside a field"},
		{"duplicate doc", map[string]string{"cran.all.1400": ".I 1\n.T\na\n.I 01\n"}, "cran.all.1400", 4, "duplicate doc id"},
		{"query out of range", map[string]string{"cranqrel": "1 1 1\n3 1 1\n"}, "cranqrel", 2, "out of range 1..2"},
		{"unknown code", map[string]string{"cranqrel": "1 1 7\n"}, "cranqrel", 1, "unknown relevance code 7"},
		{"short row", map[string]string{"cranqrel": "1 1\n"}, "cranqrel", 1, "want 3 fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{"cran.all.1400": cranDocs, "cran.qry": cranQry, "cranqrel": "1 1 1\n"}
			for k, v := range tt.files {
				files[k] = v
			}
			writeFiles(t, dir, files)
			_, err := LoadCranfield(dir)
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want a *LineError", err)
			}
			if le.File != filepath.Join(dir, tt.file) || le.Line != tt.line || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %s:%d ... %s", err, tt.file, tt.line, tt.want)
			}
		})
	}
}

func TestCranfieldGain(t *testing.T) {
	tests := []struct {
		code, gain int
		ok         bool
	}{
		{1, 4, true}, {2, 3, true}, {3, 2, true}, {4, 1, true}, {5, 0, true}, {-1, 0, true}, {0, 0, false}, {6, 0, false},
	}
	for _, tt := range tests {
		gain, ok := CranfieldGain(tt.code)
		if gain != tt.gain || ok != tt.ok {
			t.Errorf("CranfieldGain(%d) = %d, %v; want %d, %v", tt.code, gain, ok, tt.gain, tt.ok)
		}
	}
}

func TestLoadQuestions(t *testing.T) {
	dir := t.TempDir()
	abs := filepath.Join(t.TempDir(), "elsewhere", "x.md")
	content := `{"question": "how do I install?", "expected": ["docs/install.md", "./docs/../README.md"]}

{"question": "  what is x? ", "expected": ["` + filepath.ToSlash(abs) + `", "docs/install.md"], "note": "ignored"}
`
	writeFiles(t, dir, map[string]string{"sub/qs.jsonl": content})
	c, err := LoadQuestions(filepath.Join(dir, "sub", "qs.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	install := filepath.Join(dir, "sub", "docs", "install.md")
	readme := filepath.Join(dir, "sub", "README.md")
	if c.Name != "qs" {
		t.Errorf("name = %q, want qs", c.Name)
	}
	wantQ := []Query{{"q1", "how do I install?"}, {"q2", "what is x?"}}
	if !reflect.DeepEqual(c.Queries, wantQ) {
		t.Errorf("queries = %q, want %q", c.Queries, wantQ)
	}
	wantDocs := []Doc{{ID: install}, {ID: readme}, {ID: abs}}
	if !reflect.DeepEqual(c.Docs, wantDocs) {
		t.Errorf("docs = %q, want %q", c.Docs, wantDocs)
	}
	wantQrels := Qrels{"q1": {install: 1, readme: 1}, "q2": {abs: 1, install: 1}}
	if !reflect.DeepEqual(c.Qrels, wantQrels) {
		t.Errorf("qrels = %v, want %v", c.Qrels, wantQrels)
	}
	// A retrieved path, as the index records it, maps to the doc id.
	if id, ok := PathID(filepath.Join(dir, "sub", "docs", ".", "install.md")); !ok || id != install {
		t.Errorf("PathID = %q, %v; want %q", id, ok, install)
	}
}

func TestLoadQuestionsErrors(t *testing.T) {
	tests := []struct {
		name, content string
		line          int
		want          string
	}{
		{"malformed json", "{\"question\": \"a\", \"expected\": [\"x\"]}\n{\"question\": \"b\",\n", 2, "parse json"},
		{"no question", "{\"expected\": [\"x\"]}\n", 1, `"question"`},
		{"no expected", "{\"question\": \"a\"}\n", 1, `no "expected"`},
		{"typo in expected", "{\"question\": \"a\", \"expect\": [\"x\"]}\n", 1, `no "expected"`},
		{"empty path", "{\"question\": \"a\", \"expected\": [\" \"]}\n", 1, "empty path"},
		{"wrong type", "{\"question\": \"a\", \"expected\": \"x\"}\n", 1, "parse json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "q.jsonl")
			writeFiles(t, filepath.Dir(p), map[string]string{"q.jsonl": tt.content})
			_, err := LoadQuestions(p)
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want a *LineError", err)
			}
			if le.File != p || le.Line != tt.line || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %s:%d ... %s", err, p, tt.line, tt.want)
			}
		})
	}
}
