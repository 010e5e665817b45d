package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/spf13/cobra"

	"github.com/ragcli/rag/internal/extract"
	"github.com/ragcli/rag/internal/sandbox"
)

// extractChildCmd is the hidden command extract.SandboxFunc runs: rag
// re-executes itself to extract one PDF or DOCX in a child process, so a
// file that hangs the parser, exhausts memory or panics costs only that file,
// and whatever the parser prints never reaches the parent's stdout.
//
// The result, a document or an error, goes as JSON to the pipe
// sandbox.ChildSetup returns; run by hand (no pipe), it goes to stdout, which
// helps when debugging one file: rag __extract -- file.pdf | jq.
func (a *app) extractChildCmd() *cobra.Command {
	var opts extract.Options
	c := &cobra.Command{
		Use:    extract.ChildCommand + " PATH",
		Short:  "Extract one file in a child process (internal)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := sandbox.ChildSetup()
			switch {
			case errors.Is(err, sandbox.ErrNotChild):
				out = nil
			case err != nil:
				return err
			}
			doc, xerr := extract.File(cmd.Context(), args[0], opts)
			if out == nil {
				return extract.EncodeResult(a.s.Out, doc, xerr)
			}
			defer out.Close()
			if err := extract.EncodeResult(out, doc, xerr); err != nil {
				return fmt.Errorf("write result: %w", err)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&opts.PDF, "pdf", extract.PDFAuto, "PDF extractor: auto, builtin or pdftotext")
	f.BoolVar(&opts.OCR, "ocr", false, "read PDF pages without a text layer with OCR")
	f.DurationVar(&opts.OCRBudget, "ocr-budget", 0, "stop OCR of a file after this long, keeping what it read (0: 5m)")
	f.Int64Var(&opts.MaxBytes, "max-bytes", extract.DefaultMaxBytes, "refuse files larger than this many bytes")
	return c
}

// checkPDF reports a --pdf value rag ingest cannot use.
func checkPDF(pdf string) error {
	switch pdf {
	case "", extract.PDFAuto, extract.PDFBuiltin:
		return nil
	case extract.PDFToText:
		if _, err := exec.LookPath("pdftotext"); err != nil {
			return withHint(errors.New("--pdf=pdftotext: pdftotext not found on PATH"),
				"install poppler-utils, or leave out --pdf to use the built-in extractor (and pdftotext once installed)")
		}
		return nil
	}
	return usagef("--pdf must be %s, %s or %s, not %q", extract.PDFAuto, extract.PDFBuiltin, extract.PDFToText, pdf)
}

// checkOCR reports that OCR, when asked for, cannot run.
func checkOCR(ocr bool) error {
	if !ocr {
		return nil
	}
	if t := extract.MissingOCRTool(); t != nil {
		return withHint(fmt.Errorf("--ocr: %s not found on PATH", t.Name),
			"install %s (Debian: apt-get install poppler-utils tesseract-ocr tesseract-ocr-eng), or leave out --ocr (config ocr: false)", t.Package)
	}
	return nil
}

// extractOptions are the extraction options of rag ingest: PDF and DOCX
// files are extracted in a child process, this executable's __extract, under
// extract.DefaultLimits, with the PDF extractor pdf names (checked by
// checkPDF).
func extractOptions(pdf string, maxBytes int64) extract.Options {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0] // still rag; found on PATH if it has no slash
	}
	return extract.Options{MaxBytes: maxBytes, PDF: pdf, Sandbox: extract.SandboxFunc(exe, extract.DefaultLimits)}
}
