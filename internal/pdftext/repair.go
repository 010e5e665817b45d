package pdftext

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Repairs Extract reports in Result.Repair.
const (
	RepairXref = "rebuilt the cross-reference table"
)

// MalformedError is ErrMalformed with what the reader found, in words a
// person can check with a hex dump: "broken cross-reference table at byte
// 1234", "no %PDF- header", "startxref points past the end of the file".
type MalformedError struct {
	Found   string
	Library string // what the PDF library said, when it said something else
}

func (e *MalformedError) Error() string { return "malformed pdf: " + e.Found }

// Unwrap makes a MalformedError match ErrMalformed.
func (e *MalformedError) Unwrap() error { return ErrMalformed }

// objMarkerRE finds "N G obj" markers, the start of every indirect object.
var objMarkerRE = regexp.MustCompile(`(\d{1,10})[ \t\r\n\f\x00]+(\d{1,5})[ \t\r\n\f\x00]+obj`)

var (
	rootRE    = regexp.MustCompile(`/Root\s*(\d+)\s+(\d+)\s+R`)
	infoRE    = regexp.MustCompile(`/Info\s*(\d+)\s+(\d+)\s+R`)
	encryptRE = regexp.MustCompile(`/Encrypt\s*(\d+)\s+(\d+)\s+R`)
	idRE      = regexp.MustCompile(`/ID\s*\[\s*(<[0-9A-Fa-f\s]*>)\s*(<[0-9A-Fa-f\s]*>)\s*\]`)
	objStmRE  = regexp.MustCompile(`/Type\s*/ObjStm\b`)
	nRE       = regexp.MustCompile(`/N\s+(\d+)`)
	firstRE   = regexp.MustCompile(`/First\s+(\d+)`)
	catalogRE = regexp.MustCompile(`/Type\s*/Catalog\b`)
	pageRE    = regexp.MustCompile(`/Type\s*/Page\b`)
	pagesRE   = regexp.MustCompile(`/Pages\s*(\d+)\s+(\d+)\s+R`)
	flateRE   = regexp.MustCompile(`/Filter\s*(?:\[\s*)?/FlateDecode\s*\]?`)
	filterRE  = regexp.MustCompile(`/Filter\b`)
)

// Bounds on what repair reads from object streams, so a hostile file cannot
// make it inflate without end.
const (
	maxObjStmObjects = 100_000  // objects listed in one object stream
	maxObjStmHeader  = 1 << 20  // bytes of an object stream's offset table
	maxObjStmBody    = 16 << 20 // bytes inflated to look for a catalog
	maxDictScan      = 4096     // bytes after a marker searched for its dictionary
)

// xrefEntry is where one object lives: at an offset of the file (type 1) or
// as the index-th object of object stream stm (type 2). pos orders entries:
// a later definition replaces an earlier one, as incremental updates do.
type xrefEntry struct {
	inStream bool
	offset   int64 // type 1
	gen      int
	stm      int // type 2
	index    int
	pos      int64
	body     int // type 1: offset in the original data just past "obj"
	// renamed: the object at body is written again under this number, its
	// own "N G obj" being damaged or naming another number (the
	// cross-reference table's entry or the catalog object 0 say which).
	renamed bool
}

// repair rebuilds data's cross-reference data the way pdf.js, MuPDF and
// poppler do when a file's own is broken: it finds every "N G obj" marker
// (and the objects inside object streams), takes the last definition of each
// object, finds the trailer's /Root (or else the last /Type /Catalog) and
// writes a file that the library can open: a clean header, data unchanged,
// and a new cross-reference stream with a trailer and startxref at the end.
// A wrong startxref, a truncated tail, a missing or damaged xref table and
// junk before the header all become readable this way.
func repair(data []byte) ([]byte, error) {
	const header = "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
	base := int64(len(header)) // data's offset in the repaired file

	entries := map[int]xrefEntry{}
	maxID := 0
	var root, info, encrypt, id []byte
	var rootPos int64 = -1
	catalog, catalogPos := -1, int64(-1)
	catalogBody := -1 // body of the catalog when it is object 0
	put := func(n int, e xrefEntry) {
		if n <= 0 || n >= maxXrefObjects {
			return
		}
		if old, ok := entries[n]; ok && old.pos > e.pos {
			return
		}
		entries[n] = e
		maxID = max(maxID, n)
	}
	var starts []int // where each accepted marker starts, in order
	var pages []int  // the /Type /Page objects, in file order
	for _, m := range objMarkerRE.FindAllSubmatchIndex(data, -1) {
		start := m[0]
		if start > 0 && !isSpaceOrDelim(data[start-1]) {
			continue // part of a longer number or name
		}
		if end := m[1]; end < len(data) && !isSpaceOrDelim(data[end]) {
			continue // "objective", "obj2"
		}
		n, err1 := strconv.Atoi(string(data[m[2]:m[3]]))
		gen, err2 := strconv.Atoi(string(data[m[4]:m[5]]))
		if err1 != nil || err2 != nil || gen > 65535 {
			continue
		}
		starts = append(starts, start)
		put(n, xrefEntry{offset: base + int64(start), gen: gen, pos: int64(start), body: m[1]})
		dict := objectHead(data[m[1]:])
		switch {
		case objStmRE.Match(dict):
			ids, cat := objectStream(data[m[1]:], dict)
			for i, sub := range ids {
				put(sub, xrefEntry{inStream: true, stm: n, index: i, pos: int64(start)})
			}
			if cat >= 0 && int64(start) >= catalogPos {
				catalog, catalogPos = cat, int64(start)
			}
		case pageRE.Match(dict):
			pages = append(pages, n)
		case catalogRE.Match(dict):
			if int64(start) >= catalogPos {
				catalog, catalogPos = n, int64(start)
				if n == 0 {
					catalogBody = m[1]
				}
			}
		}
		if r := rootRE.FindSubmatch(dict); r != nil && bytes.Contains(dict, []byte("/XRef")) && int64(start) > rootPos {
			root, info, encrypt, id, rootPos = r[0], find(infoRE, dict), find(encryptRE, dict), find(idRE, dict), int64(start)
		}
	}
	// Classic trailers, the last one with a /Root winning over earlier ones
	// and over cross-reference streams before it.
	for off := 0; ; {
		i := bytes.Index(data[off:], []byte("trailer"))
		if i < 0 {
			break
		}
		at := off + i
		off = at + len("trailer")
		dict := objectHead(data[off:])
		if r := rootRE.FindSubmatch(dict); r != nil && int64(at) > rootPos {
			root, info, encrypt, id, rootPos = r[0], find(infoRE, dict), find(encryptRE, dict), find(idRE, dict), int64(at)
		}
	}
	// Objects a cross-reference table places where no marker was found:
	// their header is damaged ("x 0 obj", "4 0 xbj") or names another
	// number; qpdf and MuPDF take the table's word for them.
	for n, te := range tableEntries(data) {
		if _, ok := entries[n]; ok || n <= 0 || n >= maxXrefObjects {
			continue
		}
		if body := damagedHeader(data, te.offset); body > 0 {
			entries[n] = xrefEntry{gen: te.gen, pos: te.offset, body: body, renamed: true}
			maxID = max(maxID, n)
		}
	}
	if len(entries) == 0 {
		return nil, &MalformedError{Found: "no objects found"}
	}
	if root != nil {
		r := rootRE.FindSubmatch(root)
		n, _ := strconv.Atoi(string(r[1]))
		if _, ok := entries[n]; !ok {
			root = nil // the trailer names an object that is not there
		}
	}
	if root == nil {
		if catalog < 0 {
			return nil, &MalformedError{Found: "no document catalog (/Root) found"}
		}
		if catalog == 0 && catalogBody > 0 {
			// Object 0 is the head of the free list, never an object:
			// the catalog gets a number of its own.
			maxID++
			catalog = maxID
			entries[catalog] = xrefEntry{pos: catalogPos, body: catalogBody, renamed: true}
		}
		root = fmt.Appendf(nil, "/Root %d 0 R", catalog)
	}

	var out bytes.Buffer
	out.Grow(len(header) + len(data) + 64 + 7*(maxID+2))
	out.WriteString(header)
	out.Write(data)
	// Streams the library cannot decode are written again, decoded, as
	// later definitions of the same objects.
	for n := 1; n <= maxID; n++ {
		e, ok := entries[n]
		if !ok || e.inStream {
			continue
		}
		obj, ok := rewriteStream(n, e.gen, data[e.body:])
		if !ok {
			obj, ok = closeObject(n, e.gen, data, e.body, starts)
		}
		if !ok && e.renamed {
			obj, ok = copyObject(n, e.gen, data, e.body, starts)
		}
		if ok {
			e.offset = int64(out.Len()) + 1 // past the leading newline
			entries[n] = e
			out.Write(obj)
		}
	}
	// A catalog whose page tree is not in the file gets one listing the
	// pages found, under the number the catalog and the pages' /Parent
	// name.
	if n, ok := missingPageTree(data, root, entries); ok && len(pages) > 0 {
		kids := make([]string, 0, len(pages))
		for _, p := range pages {
			if e, ok := entries[p]; ok && !e.inStream {
				kids = append(kids, fmt.Sprintf("%d %d R", p, e.gen))
			}
		}
		entries[n] = xrefEntry{offset: int64(out.Len()) + 1}
		maxID = max(maxID, n)
		fmt.Fprintf(&out, "\n%d 0 obj\n<< /Type /Pages /Kids [%s] /Count %d >>\nendobj\n", n, strings.Join(kids, " "), len(kids))
	}
	xrefID := maxID + 1
	xrefOff := out.Len() + 1
	var table bytes.Buffer
	row := make([]byte, 7)
	for n := 0; n <= xrefID; n++ {
		clear(row)
		e, ok := entries[n]
		switch {
		case n == xrefID:
			row[0] = 1
			binary.BigEndian.PutUint32(row[1:5], uint32(xrefOff))
		case !ok:
			binary.BigEndian.PutUint16(row[5:7], 0xffff) // free
		case e.inStream:
			row[0] = 2
			binary.BigEndian.PutUint32(row[1:5], uint32(e.stm))
			binary.BigEndian.PutUint16(row[5:7], uint16(e.index))
		default:
			row[0] = 1
			binary.BigEndian.PutUint32(row[1:5], uint32(e.offset))
			binary.BigEndian.PutUint16(row[5:7], uint16(e.gen))
		}
		table.Write(row)
	}
	fmt.Fprintf(&out, "\n%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] %s", xrefID, xrefID+1, root)
	for _, v := range [][]byte{info, encrypt, id} {
		if v != nil {
			out.WriteByte(' ')
			out.Write(v)
		}
	}
	fmt.Fprintf(&out, " /Length %d >>\nstream\n", table.Len())
	out.Write(table.Bytes())
	fmt.Fprintf(&out, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", xrefOff)
	if int64(out.Len()) > 1<<32-1 {
		return nil, &MalformedError{Found: "file too large to repair"}
	}
	return out.Bytes(), nil
}

// closeObject returns a new definition of object n when the one whose body
// starts at data[body:] runs into the next object (or the cross-reference
// table) without its "endobj": the same body, closed. ok is false when the
// object is closed.
func closeObject(n, gen int, data []byte, body int, starts []int) (obj []byte, ok bool) {
	next := len(data)
	if i, _ := slices.BinarySearch(starts, body); i < len(starts) {
		next = starts[i]
	}
	region := data[body:next]
	if bytes.Contains(region, []byte("endobj")) {
		return nil, false
	}
	for _, kw := range []string{"\nxref", "\rxref", "trailer", "startxref"} {
		if i := bytes.Index(region, []byte(kw)); i >= 0 {
			region = region[:i]
		}
	}
	region = bytes.TrimRight(region, " \t\r\n\f\x00")
	if len(region) == 0 {
		return nil, false
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "\n%d %d obj", n, gen)
	out.Write(region)
	out.WriteString("\nendobj\n")
	return out.Bytes(), true
}

// missingPageTree returns the number of the page tree the catalog named
// by root ("/Root N G R") points to, when no object of that number is in
// the file.
func missingPageTree(data []byte, root []byte, entries map[int]xrefEntry) (int, bool) {
	r := rootRE.FindSubmatch(root)
	if r == nil {
		return 0, false
	}
	c, _ := strconv.Atoi(string(r[1]))
	e, ok := entries[c]
	if !ok || e.inStream || e.body <= 0 || e.body > len(data) {
		return 0, false
	}
	m := pagesRE.FindSubmatch(objectHead(data[e.body:]))
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(string(m[1]))
	if err != nil || n <= 0 || n >= maxXrefObjects {
		return 0, false
	}
	_, there := entries[n]
	return n, !there
}

// copyObject returns object n's definition with a fresh "n gen obj"
// header: its body from data[body:] up to and including its "endobj".
func copyObject(n, gen int, data []byte, body int, starts []int) ([]byte, bool) {
	next := len(data)
	if i, _ := slices.BinarySearch(starts, body); i < len(starts) {
		next = starts[i]
	}
	region := data[body:next]
	i := bytes.Index(region, []byte("endobj"))
	if i < 0 {
		return nil, false
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "\n%d %d obj\n", n, gen)
	out.Write(region[:i+len("endobj")])
	out.WriteString("\n")
	return out.Bytes(), true
}

// tableEntry is an in-use entry of a classic cross-reference table.
type tableEntry struct {
	offset int64
	gen    int
}

var (
	xrefSubRE = regexp.MustCompile(`^[ \t\r\n]*(\d{1,10})[ \t]+(\d{1,7})[ \t]*\r?\n?`)
	xrefRowRE = regexp.MustCompile(`^[ \t\r\n]*(\d{10})[ \t](\d{5})[ \t]([nf])`)
)

// tableEntries reads the in-use entries of every classic cross-reference
// table ("xref", then subsections of 20-byte rows), a later table's entry
// replacing an earlier one's.
func tableEntries(data []byte) map[int]tableEntry {
	out := map[int]tableEntry{}
	for off := 0; len(out) < maxXrefObjects; {
		i := bytes.Index(data[off:], []byte("xref"))
		if i < 0 {
			break
		}
		at := off + i + len("xref")
		off = at
		if at-len("xref") > 0 && !isSpaceOrDelim(data[at-len("xref")-1]) {
			continue // "startxref"
		}
		rest := data[at:]
		for {
			m := xrefSubRE.FindSubmatch(rest)
			if m == nil {
				break
			}
			first, _ := strconv.Atoi(string(m[1]))
			count, _ := strconv.Atoi(string(m[2]))
			rest = rest[len(m[0]):]
			for k := 0; k < count && k < maxXrefObjects; k++ {
				r := xrefRowRE.FindSubmatch(rest)
				if r == nil {
					break
				}
				rest = rest[len(r[0]):]
				if string(r[3]) == "n" {
					o, _ := strconv.ParseInt(string(r[1]), 10, 64)
					g, _ := strconv.Atoi(string(r[2]))
					out[first+k] = tableEntry{offset: o, gen: g}
				}
			}
		}
	}
	return out
}

// damagedHeader returns where the body of an object starts when data at
// off holds a damaged object header: one short line of three words ("x 0
// obj", "4 x obj", "4 0 xbj") followed by the start of a PDF object. It is
// 0 when off holds no such thing.
func damagedHeader(data []byte, off int64) int {
	if off <= 0 || off >= int64(len(data)) {
		return 0
	}
	line := data[off:min(int64(len(data)), off+40)]
	end := bytes.IndexAny(line, "\r\n")
	if end < 0 || len(bytes.Fields(line[:end])) != 3 {
		return 0
	}
	body := int(off) + end
	rest := bytes.TrimLeft(data[body:min(len(data), body+64)], " \t\r\n\f\x00")
	if len(rest) == 0 || !bytes.ContainsRune([]byte("<[(/-+.0123456789tfn"), rune(rest[0])) {
		return 0
	}
	return body
}

func find(re *regexp.Regexp, b []byte) []byte {
	if m := re.Find(b); m != nil {
		return m
	}
	return nil
}

// objectHead returns the start of an object's body: up to its "stream"
// keyword, its "endobj" or maxDictScan bytes, which holds its dictionary
// in any real file.
func objectHead(b []byte) []byte {
	b = b[:min(len(b), maxDictScan)]
	for _, kw := range []string{"stream", "endobj"} {
		if i := bytes.Index(b, []byte(kw)); i >= 0 {
			b = b[:i]
		}
	}
	return b
}

// objectStream lists the object numbers an object stream holds, in order,
// and the number of the catalog among them (-1 if none). rest starts just
// after the stream object's "obj" keyword; dict is its dictionary. Only
// unfiltered and Flate streams are read.
func objectStream(rest, dict []byte) (ids []int, catalog int) {
	catalog = -1
	nm, fm := nRE.FindSubmatch(dict), firstRE.FindSubmatch(dict)
	if nm == nil || fm == nil {
		return nil, -1
	}
	n, err1 := strconv.Atoi(string(nm[1]))
	first, err2 := strconv.Atoi(string(fm[1]))
	if err1 != nil || err2 != nil || n <= 0 || n > maxObjStmObjects || first <= 0 || first > maxObjStmHeader {
		return nil, -1
	}
	i := bytes.Index(rest[:min(len(rest), maxDictScan+16)], []byte("stream"))
	if i < 0 {
		return nil, -1
	}
	body := rest[i+len("stream"):]
	switch {
	case bytes.HasPrefix(body, []byte("\r\n")):
		body = body[2:]
	case bytes.HasPrefix(body, []byte("\n")), bytes.HasPrefix(body, []byte("\r")):
		body = body[1:]
	}
	var plain []byte
	switch {
	case flateRE.Match(dict):
		zr, err := zlib.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, -1
		}
		plain, _ = io.ReadAll(io.LimitReader(zr, maxObjStmBody))
	case filterRE.Match(dict):
		// Other filters (Brotli, LZW...) through decodeStream, on the
		// stream's data up to its endstream.
		raw, ok := streamData(rest, i)
		if !ok {
			return nil, -1
		}
		d, err := decodeStream(dict, raw)
		if err != nil {
			return nil, -1
		}
		plain = d[:min(len(d), maxObjStmBody)]
	default:
		plain = body[:min(len(body), maxObjStmBody)]
	}
	if len(plain) < first {
		return nil, -1
	}
	fields := bytes.Fields(plain[:first])
	offsets := make([]int, 0, n)
	for k := 0; k+1 < len(fields) && len(ids) < n; k += 2 {
		id, err1 := strconv.Atoi(string(fields[k]))
		off, err2 := strconv.Atoi(string(fields[k+1]))
		if err1 != nil || err2 != nil {
			break
		}
		ids = append(ids, id)
		offsets = append(offsets, off)
	}
	for k, off := range offsets {
		start := first + off
		end := len(plain)
		if k+1 < len(offsets) {
			end = first + offsets[k+1]
		}
		if start < end && end <= len(plain) && catalogRE.Match(plain[start:end]) {
			catalog = ids[k]
		}
	}
	return ids, catalog
}

func isSpaceOrDelim(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '\f', 0, '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

// diagnose says what is wrong with a file the library refused to open, in
// terms of the file's own structure.
func diagnose(data []byte) string {
	if bytes.Index(data[:min(len(data), 1024)], []byte("%PDF-")) < 0 {
		return "no %PDF- header (not a PDF file?)"
	}
	tail := data[max(0, len(data)-2048):]
	i := bytes.LastIndex(tail, []byte("startxref"))
	if i < 0 {
		return fmt.Sprintf("no startxref at the end (truncated at byte %d?)", len(data))
	}
	m := regexp.MustCompile(`^startxref\s+(\d+)`).FindSubmatch(tail[i:])
	if m == nil {
		return "startxref is not followed by an offset"
	}
	off, err := strconv.ParseInt(string(m[1]), 10, 64)
	if err != nil || off >= int64(len(data)) {
		return fmt.Sprintf("startxref points past the end of the file (byte %s of %d)", m[1], len(data))
	}
	at := bytes.TrimLeft(data[off:min(int64(len(data)), off+64)], " \t\r\n\f\x00")
	if !bytes.HasPrefix(at, []byte("xref")) && objMarkerRE.FindIndex(at) == nil {
		return fmt.Sprintf("startxref points to byte %d, where no cross-reference table starts", off)
	}
	return fmt.Sprintf("broken cross-reference table at byte %d", off)
}
