package extract

import (
	"context"
	"errors"
	"github.com/ragcli/rag/internal/shareddata"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// sharedPDFs returns ../shared/data/pdfs, skipping the test when it is absent.
func sharedPDFs(t *testing.T) string { return shareddata.Dir(t, "pdfs") }

// TestPDFSurveySandboxed runs every PDF of the shared corpus through the
// sandboxed extractor, GOMAXPROCS children at a time as ingest does, and
// reports the outcomes, the wall time and this process's peak RSS. It is a
// measurement, run on demand:
//
//	RAG_PDF_SURVEY=1 go test -run TestPDFSurveySandboxed -v ./internal/extract
//	RAG_PDF_SURVEY=1 RAG_PDF_SURVEY_ENGINE=builtin go test ...
//
// The engine is auto (the default) unless RAG_PDF_SURVEY_ENGINE names
// builtin or pdftotext. RAG_PDF_SURVEY_OCR=1 turns OCR on (2 minutes a
// file at most); "read by tesseract" then counts the files read by OCR
// alone and "ocr pages" the pages it read in all.
func TestPDFSurveySandboxed(t *testing.T) {
	if os.Getenv("RAG_PDF_SURVEY") != "1" {
		t.Skip("set RAG_PDF_SURVEY=1 to survey the shared PDF corpus")
	}
	root := sharedPDFs(t)
	var paths []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".pdf") {
			paths = append(paths, p)
		}
		return nil
	})
	lim := DefaultLimits
	lim.Timeout = 20 * time.Second
	opts := Options{PDF: os.Getenv("RAG_PDF_SURVEY_ENGINE"), Sandbox: testSandbox(t, "extract", lim)}
	if os.Getenv("RAG_PDF_SURVEY_OCR") == "1" {
		needOCR(t)
		opts.OCR = true
		old := OCRTimeout
		OCRTimeout = 2 * time.Minute
		t.Cleanup(func() { OCRTimeout = old })
	}

	outcome := func(err error) string {
		switch {
		case err == nil:
			return "indexed"
		case errors.Is(err, ErrEncrypted):
			return "encrypted"
		case errors.Is(err, ErrNoText):
			return "no text layer"
		case errors.Is(err, ErrMalformed):
			return "malformed"
		case errors.Is(err, ErrTooLarge):
			return "too large"
		case Reason(err) == "out of memory":
			return "out of memory"
		case strings.HasPrefix(Reason(err), "timed out"):
			return "timed out"
		case errors.Is(err, ErrCrashed):
			return "crashed"
		}
		return "other error"
	}
	var mu sync.Mutex
	counts := map[string]int{}
	var notes []string
	next := make(chan string)
	var wg sync.WaitGroup
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range next {
				data, err := os.ReadFile(p)
				if err != nil {
					t.Error(err)
					continue
				}
				// Bytes, as ingest calls it.
				doc, err := Bytes(context.Background(), p, data, opts)
				o := outcome(err)
				mu.Lock()
				counts[o]++
				rel, _ := filepath.Rel(root, p)
				if doc != nil {
					notes = append(notes, rel+": indexed, "+strconv.Itoa(len(doc.Blocks))+" blocks, "+doc.Engine+" "+doc.Repair+" "+ReadNote(doc))
					counts["read by "+doc.Engine]++
					counts["ocr pages"] += doc.OCRPages
					if doc.OCRPages > 0 {
						counts["ocr files"]++
					}
					if doc.Repair != "" {
						counts["repaired"]++
					}
				} else {
					notes = append(notes, rel+": "+o+": "+Reason(err))
				}
				mu.Unlock()
			}
		}()
	}
	for _, p := range paths {
		next <- p
	}
	close(next)
	wg.Wait()
	wall := time.Since(start)
	sort.Strings(notes)
	for _, n := range notes {
		t.Log(n)
	}
	total := 0
	for _, k := range []string{"indexed", "encrypted", "no text layer", "malformed", "too large", "timed out", "out of memory", "crashed", "other error"} {
		t.Logf("%-14s %4d", k, counts[k])
		total += counts[k]
	}
	for _, k := range []string{"read by " + PDFBuiltin, "read by " + PDFToText, "read by " + PDFOCR, "repaired", "ocr files", "ocr pages"} {
		t.Logf("%-14s %4d", k, counts[k])
	}
	t.Logf("total %d of %d files, wall %.1fs, parent peak RSS %s", total, len(paths), wall.Seconds(), peakRSS())
	if total != len(paths) {
		t.Errorf("outcomes add up to %d, want %d", total, len(paths))
	}
}

// peakRSS is VmHWM from /proc/self/status, where there is one.
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
