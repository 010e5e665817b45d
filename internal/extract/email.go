package extract

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"

	"golang.org/x/net/html/charset"
)

// Bounds on one email's MIME tree.
const (
	maxMailParts = 1000
	maxMailDepth = 10
)

// extractEmail reads an RFC 5322 message (.eml): a block with its From,
// To, Date and Subject, then its text (the first text/plain part, else the
// first text/html one, as text), then a block naming its attachments. The
// subject is the title. Attachments are named, never read.
func extractEmail(ctx context.Context, doc *Document, data []byte) error {
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return newError(ErrMalformed, "malformed email", err)
	}
	dec := &mime.WordDecoder{CharsetReader: charset.NewReaderLabel}
	header := func(k string) string {
		v := msg.Header.Get(k)
		if d, err := dec.DecodeHeader(v); err == nil {
			v = d
		}
		return collapseSpace(CleanText(v))
	}
	doc.Title = header("Subject")
	var head []string
	for _, k := range []string{"From", "To", "Cc", "Date", "Subject"} {
		if v := header(k); v != "" {
			head = append(head, k+": "+v)
		}
	}
	if len(head) > 0 {
		doc.Blocks = append(doc.Blocks, Block{Text: strings.Join(head, "\n"), Kind: KindParagraph, Headings: []string{"headers"}})
	}
	w := &mailWalker{dec: dec}
	w.part(textproto(msg.Header), msg.Body, 0)
	if err := ctx.Err(); err != nil {
		return err
	}
	switch {
	case w.plain != "":
		if err := textBlocks(ctx, doc, w.plain, KindParagraph); err != nil {
			return err
		}
	case w.html != nil:
		h := &Document{}
		if err := extractHTML(ctx, h, w.html); err == nil {
			doc.Blocks = append(doc.Blocks, h.Blocks...)
		}
	}
	for i := range doc.Blocks {
		doc.Blocks[i].StartLine, doc.Blocks[i].EndLine = 0, 0 // lines of the body, not of the file
	}
	if len(w.attachments) > 0 {
		doc.Blocks = append(doc.Blocks, Block{Text: "Attachments: " + strings.Join(w.attachments, ", "),
			Kind: KindParagraph, Headings: []string{"attachments"}})
	}
	return nil
}

// mailWalker collects the text and the attachment names of a MIME tree.
type mailWalker struct {
	dec         *mime.WordDecoder
	parts       int
	plain       string
	html        []byte
	attachments []string
}

// partHeader is what mailWalker reads of a part's header.
type partHeader interface{ Get(string) string }

func textproto(h mail.Header) partHeader { return h }

func (w *mailWalker) part(h partHeader, body io.Reader, depth int) {
	if w.parts++; w.parts > maxMailParts || depth > maxMailDepth {
		return
	}
	ctype, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		ctype, params = "text/plain", map[string]string{}
	}
	disp, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	if d, err := w.dec.DecodeHeader(name); err == nil {
		name = d
	}
	if strings.HasPrefix(ctype, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			w.part(p.Header, p, depth+1)
			if w.parts > maxMailParts {
				return
			}
		}
	}
	if disp == "attachment" || name != "" && disp != "inline" || !strings.HasPrefix(ctype, "text/") {
		if name == "" {
			name = "(unnamed " + ctype + ")"
		}
		w.attachments = append(w.attachments, collapseSpace(CleanText(name)))
		return
	}
	if ctype == "text/plain" && w.plain != "" || ctype == "text/html" && w.html != nil {
		return
	}
	r := body
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &stripSpace{r: r})
	}
	if cs := params["charset"]; cs != "" && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "us-ascii") {
		if cr, err := charset.NewReaderLabel(cs, r); err == nil {
			r = cr
		}
	}
	data, _ := io.ReadAll(io.LimitReader(r, DefaultMaxBytes))
	switch ctype {
	case "text/html":
		w.html = data
	case "text/plain":
		if s, _, err := decodeText(data); err == nil {
			w.plain = s
		}
	default:
		w.attachments = append(w.attachments, fmt.Sprintf("(%s)", ctype))
	}
}

// stripSpace drops the line breaks of base64 bodies.
type stripSpace struct{ r io.Reader }

func (s *stripSpace) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	j := 0
	for _, c := range p[:n] {
		if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
			p[j] = c
			j++
		}
	}
	return j, err
}
