package pdftext

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/ragcli/rag/internal/shareddata"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ledongthuc/pdf"
)

// pdfDataDir returns ../shared/data/pdfs, skipping the test when it is absent.
func pdfDataDir(t testing.TB) string { return shareddata.Dir(t, "pdfs") }

var (
	wordRE    = regexp.MustCompile(`\p{L}+`)
	texCmdRE  = regexp.MustCompile(`\\[a-zA-Z]+\*?(\[[^\]]*\])?`)
	texEnvRE  = regexp.MustCompile(`\\(begin|end|usepackage|documentclass|includegraphics)(\[[^\]]*\])?\{[^}]*\}`)
	commentRE = regexp.MustCompile(`(?m)(^|[^\\])%.*$`)
	tagRE     = regexp.MustCompile(`(?s)<head>.*?</head>|<[^>]*>`)
)

// sourceWords returns the lower-cased words of at least three letters in a
// .tex or .html source, with markup stripped roughly.
func sourceWords(path string) (map[string]bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := string(b)
	if strings.HasSuffix(path, ".html") {
		s = tagRE.ReplaceAllString(s, " ")
	} else {
		s = commentRE.ReplaceAllString(s, "$1")
		s = texEnvRE.ReplaceAllString(s, " ")
		s = texCmdRE.ReplaceAllString(s, " ")
	}
	return words(s), nil
}

func words(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range wordRE.FindAllString(strings.ToLower(s), -1) {
		if len([]rune(w)) >= 3 {
			m[w] = true
		}
	}
	return m
}

// libraryPlainText is the baseline: the library's GetPlainText per page.
func libraryPlainText(path string) (text string, err error) {
	defer func() {
		if x := recover(); x != nil {
			err = fmt.Errorf("panic: %v", x)
		}
	}()
	f, r, err := pdf.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var b strings.Builder
	for i := 1; i <= r.NumPage() && i <= MaxPages; i++ {
		s, err := r.Page(i).GetPlainText(nil)
		if err != nil {
			continue
		}
		b.WriteString(s)
		b.WriteByte('\n')
	}
	return b.String(), nil
}

func recall(src, got map[string]bool) (found int) {
	for w := range src {
		if got[w] {
			found++
		}
	}
	return found
}

// TestWordRecallPyPDFSamples measures, for the py-pdf samples that ship their
// source, the share of source words found in the extracted text, for the
// library's GetPlainText and for Extract.
func TestWordRecallPyPDFSamples(t *testing.T) {
	dir := filepath.Join(pdfDataDir(t), "pypdf-sample-files")
	srcs, _ := filepath.Glob(filepath.Join(dir, "*", "*.tex"))
	htmls, _ := filepath.Glob(filepath.Join(dir, "*", "*.html"))
	srcs = append(srcs, htmls...)
	sort.Strings(srcs)
	if len(srcs) == 0 {
		t.Skip("no source files")
	}
	var total, beforeSum, afterSum int
	for _, src := range srcs {
		want, err := sourceWords(src)
		if err != nil {
			t.Fatal(err)
		}
		pdfs, _ := filepath.Glob(filepath.Join(filepath.Dir(src), "*.pdf"))
		for _, p := range pdfs {
			before, err := libraryPlainText(p)
			if err != nil {
				t.Logf("%s: GetPlainText: %v", p, err)
			}
			res, err := Extract(context.Background(), p)
			var after string
			if err != nil {
				t.Errorf("%s: Extract: %v", p, err)
			} else {
				after = strings.Join(res.Pages, "\n")
			}
			b, a := recall(want, words(before)), recall(want, words(after))
			total += len(want)
			beforeSum += b
			afterSum += a
			t.Logf("%-60s words %4d  GetPlainText %5.1f%%  Extract %5.1f%%",
				strings.TrimPrefix(p, dir+"/"), len(want), pct(b, len(want)), pct(a, len(want)))
			if a < b {
				t.Errorf("%s: Extract recall %d below GetPlainText %d", p, a, b)
			}
		}
	}
	t.Logf("ALL: %d source words, GetPlainText %.1f%%, Extract %.1f%%", total, pct(beforeSum, total), pct(afterSum, total))
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// TestDumpPDF prints Extract's text of RAG_PDF_DUMP to the test log; it is a
// debugging aid.
func TestDumpPDF(t *testing.T) {
	path := os.Getenv("RAG_PDF_DUMP")
	if path == "" {
		t.Skip("set RAG_PDF_DUMP=file.pdf")
	}
	res, err := Extract(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("title %q", res.Title)
	for i, p := range res.Pages {
		t.Logf("--- page %d\n%s", i+1, p)
	}
}

// Survey plumbing: the test binary re-runs itself per file with
// RAG_PDF_SURVEY_CHILD set, so a hang or an out-of-memory crash in the
// library ends only the child.
const surveyChildEnv = "RAG_PDF_SURVEY_CHILD"

// TestSurveyChild is the child side of TestSurveyAllPDFs.
func TestSurveyChild(t *testing.T) {
	path := os.Getenv(surveyChildEnv)
	if path == "" {
		t.Skip("child process only")
	}
	res, err := Extract(context.Background(), path)
	outcome := "ok"
	switch {
	case errors.Is(err, ErrEncrypted):
		outcome = "encrypted"
	case errors.Is(err, ErrNoText):
		outcome = "notext"
	case errors.Is(err, ErrMalformed):
		outcome = "malformed"
	case err != nil:
		outcome = "error"
	}
	chars, pages := 0, 0
	if res != nil {
		pages = len(res.Pages)
		for _, p := range res.Pages {
			chars += len(p)
		}
	}
	fmt.Fprintf(os.Stderr, "\nSURVEY %s %d %d %v\n", outcome, pages, chars, err)
}

// TestSurveyAllPDFs runs Extract on every PDF of the shared corpus, each in a
// child process with a timeout and a memory limit, and logs the outcomes.
// Set RAG_PDF_SURVEY=1 to run it.
func TestSurveyAllPDFs(t *testing.T) {
	if os.Getenv("RAG_PDF_SURVEY") == "" {
		t.Skip("set RAG_PDF_SURVEY=1")
	}
	dir := pdfDataDir(t)
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".pdf") {
			files = append(files, p)
		}
		return nil
	})
	manifest := map[string]string{}
	if b, err := os.ReadFile(filepath.Join(dir, "MANIFEST.tsv")); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Split(l, "\t")
			if len(f) > 7 {
				manifest[f[0]] = f[7]
			}
		}
	}
	counts := map[string]int{}
	var slowest time.Duration
	var slowestFile string
	for _, p := range files {
		rel := strings.TrimPrefix(p, dir+"/")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSurveyChild$", "-test.v")
		cmd.Env = append(os.Environ(), surveyChildEnv+"="+p, "GOMEMLIMIT=1GiB")
		var stderr, stdout bytes.Buffer
		cmd.Stderr, cmd.Stdout = &stderr, &stdout
		start := time.Now()
		err := cmd.Run()
		el := time.Since(start)
		timedOut := ctx.Err() == context.DeadlineExceeded
		cancel()
		if el > slowest {
			slowest, slowestFile = el, rel
		}
		outcome, detail := "crashed", ""
		if i := strings.Index(stderr.String(), "\nSURVEY "); i >= 0 {
			detail = strings.TrimSpace(stderr.String()[i+8:])
			outcome, _, _ = strings.Cut(detail, " ")
		} else if timedOut {
			outcome = "timeout"
		} else {
			detail = firstLine(stderr.String() + stdout.String())
			if err != nil {
				detail += " (" + err.Error() + ")"
			}
		}
		if strings.Contains(stdout.String(), "DEBUG:") {
			counts["stdout DEBUG lines"]++
		}
		counts[outcome]++
		t.Logf("%-9s %-8s %6.2fs %s %s", outcome, manifest[rel], el.Seconds(), rel, oneLine(detail, 140))
	}
	var keys []string
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sum []string
	for _, k := range keys {
		sum = append(sum, fmt.Sprintf("%s=%d", k, counts[k]))
	}
	t.Logf("SUMMARY %d files: %s; slowest %s %.1fs", len(files), strings.Join(sum, " "), slowestFile, slowest.Seconds())
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "=== RUN") {
			return l
		}
	}
	return ""
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n]
	}
	return s
}
