package pdftext

import (
	"errors"
	"math"
	"strings"

	"github.com/ledongthuc/pdf"
)

// glyph is one shown character in page space, rotated so that the page's
// dominant writing direction runs along +x.
type glyph struct {
	x, y  float64 // start of the baseline
	w     float64 // advance along the baseline
	size  float64 // font size in page space
	s     string  // decoded text, possibly several runes ("fi") or " "
	order int     // position in the content stream
	dir   int     // baseline direction in quarter turns counterclockwise
}

// direction quantizes the baseline vector (a, b) to quarter turns.
func direction(a, b float64) int {
	if math.Abs(a) >= math.Abs(b) {
		if a >= 0 {
			return 0
		}
		return 2
	}
	if b > 0 {
		return 1
	}
	return 3
}

// Limits on the work one page may cause.
const (
	maxOps       = 5_000_000 // content stream operators per page
	maxGlyphs    = 500_000   // glyphs per page
	maxFormDepth = 8         // nesting of form XObjects
)

var errPageTooBig = errors.New("page content too large")

// matrix is a PDF affine matrix [a b c d e f].
type matrix [6]float64

var identity3 = matrix{1, 0, 0, 1, 0, 0}

// mul returns m × n (apply m, then n).
func (m matrix) mul(n matrix) matrix {
	return matrix{
		m[0]*n[0] + m[1]*n[2],
		m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2],
		m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4],
		m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

// gstate is the part of the graphics and text state that positions glyphs.
type gstate struct {
	ctm              matrix
	font             *fontInfo
	size, tc, tw, th float64
	leading, rise    float64
}

// fontInfo decodes codes of one font and knows their widths.
type fontInfo struct {
	enc       pdf.TextEncoding
	twoByte   bool
	scale     float64 // glyph space to text space, 0.001 except Type3
	widths    map[int]float64
	first     int
	simpleW   []float64
	defaultW  float64
	cidRanges []cidRange
	texEnc    map[byte]string // built-in encoding of TeX fonts, see texEncoding
	cjk       *cjkCMap        // codes in a legacy CJK encoding, see cjkCMaps
}

// TeX's Computer Modern (OT1) and EC (T1) fonts come without /Encoding or
// /ToUnicode; their built-in encodings put ligatures, dashes and quotes at
// codes that the default decoding turns into control runes or wrong ASCII.
var (
	ot1Encoding = map[byte]string{
		0x0B: "ff", 0x0C: "fi", 0x0D: "fl", 0x0E: "ffi", 0x0F: "ffl", 0x10: "ı",
		0x19: "ß", 0x1A: "æ", 0x1B: "œ", 0x1C: "ø", 0x1D: "Æ", 0x1E: "Œ", 0x1F: "Ø",
		0x22: "”", 0x27: "’", 0x5C: "“", 0x60: "‘", 0x7B: "–", 0x7C: "—",
	}
	t1Encoding = map[byte]string{
		0x10: "“", 0x11: "”", 0x15: "–", 0x16: "—",
		0x1B: "ff", 0x1C: "fi", 0x1D: "fl", 0x1E: "ffi", 0x1F: "ffl", 0x27: "’", 0x60: "‘",
	}
)

// texEncoding returns the built-in encoding of a TeX text font, or nil.
func texEncoding(v pdf.Value) map[byte]string {
	if v.Key("Encoding").Kind() != pdf.Null || v.Key("ToUnicode").Kind() != pdf.Null {
		return nil
	}
	name := v.Key("BaseFont").Name()
	if i := strings.IndexByte(name, '+'); i >= 0 {
		name = name[i+1:]
	}
	switch {
	case strings.HasPrefix(name, "CMMI"), strings.HasPrefix(name, "CMSY"), strings.HasPrefix(name, "CMEX"):
		return nil
	case strings.HasPrefix(name, "CM"):
		return ot1Encoding
	case strings.HasPrefix(name, "SF"), strings.HasPrefix(name, "EC"):
		return t1Encoding
	}
	return nil
}

type cidRange struct {
	lo, hi int
	w      float64
}

// width returns the advance of code in glyph space units.
func (f *fontInfo) width(code int) float64 {
	if f.twoByte {
		if w, ok := f.widths[code]; ok {
			return w
		}
		for _, r := range f.cidRanges {
			if code >= r.lo && code <= r.hi {
				return r.w
			}
		}
		return f.defaultW
	}
	if i := code - f.first; i >= 0 && i < len(f.simpleW) && f.simpleW[i] > 0 {
		return f.simpleW[i]
	}
	return f.defaultW
}

// newFontInfo reads what glyph placement needs from a font dictionary.
func newFontInfo(v pdf.Value) *fontInfo {
	font := pdf.Font{V: v}
	fi := &fontInfo{scale: 0.001, defaultW: 500}
	if enc := font.Encoder(); enc != nil {
		fi.enc = enc
	} else {
		fi.enc = nopDecoder{}
	}
	switch v.Key("Subtype").Name() {
	case "Type0":
		fi.twoByte = true
		fi.widths = map[int]float64{}
		if m, ok := cjkCMaps[v.Key("Encoding").Name()]; ok && v.Key("ToUnicode").Kind() == pdf.Null {
			fi.cjk = &m
		}
		d := v.Key("DescendantFonts").Index(0)
		fi.defaultW = 1000
		if dw := d.Key("DW"); dw.Kind() == pdf.Integer || dw.Kind() == pdf.Real {
			fi.defaultW = dw.Float64()
		}
		w := d.Key("W")
		for i := 0; i < w.Len() && len(fi.widths) < 70000; {
			c := int(w.Index(i).Int64())
			next := w.Index(i + 1)
			if next.Kind() == pdf.Array {
				for j := 0; j < next.Len() && j < 70000; j++ {
					fi.widths[c+j] = next.Index(j).Float64()
				}
				i += 2
				continue
			}
			if i+2 >= w.Len() {
				break
			}
			fi.cidRanges = append(fi.cidRanges, cidRange{c, int(next.Int64()), w.Index(i + 2).Float64()})
			i += 3
		}
	case "Type3":
		if m := v.Key("FontMatrix"); m.Len() == 6 && m.Index(0).Float64() != 0 {
			fi.scale = math.Abs(m.Index(0).Float64())
		}
		fallthrough
	default:
		fi.texEnc = texEncoding(v)
		fi.first = int(v.Key("FirstChar").Int64())
		ws := v.Key("Widths")
		for i := 0; i < ws.Len() && i < 256; i++ {
			fi.simpleW = append(fi.simpleW, ws.Index(i).Float64())
		}
		if strings.Contains(v.Key("BaseFont").Name(), "Courier") {
			fi.defaultW = 600
		}
		if fi.scale != 0.001 {
			fi.defaultW = 0.5 / fi.scale
		}
	}
	return fi
}

type nopDecoder struct{}

func (nopDecoder) Decode(raw string) string { return raw }

// interpreter collects the glyphs of one page.
type interpreter struct {
	glyphs []glyph
	ops    int
	fonts  map[fontKey]*fontInfo
	forms  map[objID]bool
}

type fontKey struct {
	id   objID
	name string
	res  int
}

// pageGlyphs interprets the page's content stream, including form XObjects.
func pageGlyphs(p pdf.Page) (gs []glyph, err error) {
	defer func() {
		if x := recover(); x != nil {
			if e, ok := x.(error); ok && errors.Is(e, errPageTooBig) {
				gs, err = nil, e
				return
			}
			gs, err = nil, errors.Join(ErrMalformed, errors.New(toString(x)))
		}
	}()
	in := &interpreter{fonts: map[fontKey]*fontInfo{}, forms: map[objID]bool{}}
	if contents := p.V.Key("Contents"); !contents.IsNull() {
		in.run(contents, p.Resources(), gstate{ctm: identity3, th: 1}, 0, 0)
	}
	in.annotations(p.V.Key("Annots"))
	return in.glyphs, nil
}

// maxAnnots bounds the annotations read on one page.
const maxAnnots = 1000

// annotations adds the text the page's annotations show: the normal
// appearance stream (/AP /N) of each, as viewers and pdftotext draw it (a
// FreeText comment, a filled-in form field), placed at its /Rect. Links,
// popups and hidden annotations show no text of their own.
func (in *interpreter) annotations(annots pdf.Value) {
	for i := 0; i < annots.Len() && i < maxAnnots; i++ {
		a := annots.Index(i)
		switch a.Key("Subtype").Name() {
		case "Link", "Popup":
			continue
		}
		if a.Key("F").Int64()&2 != 0 { // hidden
			continue
		}
		ap := a.Key("AP").Key("N")
		if ap.Kind() == pdf.Dict { // one appearance per state: the one in force
			ap = ap.Key(a.Key("AS").Name())
		}
		if ap.Kind() != pdf.Stream {
			continue
		}
		g := gstate{ctm: identity3, th: 1}
		rect, bbox := a.Key("Rect"), ap.Key("BBox")
		if rect.Len() == 4 && bbox.Len() == 4 {
			g.ctm = matrix{1, 0, 0, 1, rect.Index(0).Float64() - bbox.Index(0).Float64(), rect.Index(1).Float64() - bbox.Index(1).Float64()}
		}
		res := ap.Key("Resources")
		in.run(ap, res, g, 1, 1)
	}
}

func toString(x any) string {
	switch x := x.(type) {
	case error:
		return x.Error()
	case string:
		return x
	}
	return "panic"
}

// run interprets one content stream with its resources.
func (in *interpreter) run(strm, res pdf.Value, g gstate, depth, resID int) {
	var (
		stack   []gstate
		tm, tlm = identity3, identity3
	)
	num := func(args []pdf.Value, i int) float64 {
		if i < len(args) {
			return args[i].Float64()
		}
		return 0
	}
	show := func(raw string) {
		f := g.font
		if f == nil {
			f = &fontInfo{enc: nopDecoder{}, scale: 0.001, defaultW: 500}
		}
		step := 1
		if f.twoByte {
			step = 2
		}
		for i := 0; i < len(raw); i += step {
			if f.cjk != nil {
				step = f.cjk.codeLen(raw[i:])
			}
			end := min(i+step, len(raw))
			code := 0
			for _, b := range []byte(raw[i:end]) {
				code = code<<8 | int(b)
			}
			w0 := f.width(code) * f.scale
			if f.cjk != nil {
				// The codes are not CIDs: widths by CID do not apply.
				w0 = f.scale * 500 * float64(end-i)
			}
			trm := matrix{g.size * g.th, 0, 0, g.size, 0, g.rise}.mul(tm).mul(g.ctm)
			tx := w0*g.size + g.tc
			if step == 1 && code == 32 {
				tx += g.tw
			}
			tx *= g.th
			if len(in.glyphs) >= maxGlyphs {
				panic(errPageTooBig)
			}
			s := f.enc.Decode(raw[i:end])
			if f.cjk != nil {
				s = f.cjk.decode(raw[i:end])
			}
			if f.texEnc != nil && step == 1 {
				if t, ok := f.texEnc[raw[i]]; ok {
					s = t
				}
			}
			in.glyphs = append(in.glyphs, glyph{
				x: trm[4], y: trm[5],
				// w carries the advance vector length; layout rotates it.
				w:     w0 * math.Hypot(trm[0], trm[1]),
				size:  math.Hypot(trm[2], trm[3]),
				s:     s,
				order: len(in.glyphs),
				dir:   direction(trm[0], trm[1]),
			})
			tm = matrix{1, 0, 0, 1, tx, 0}.mul(tm)
		}
	}
	pdf.Interpret(strm, func(stk *pdf.Stack, op string) {
		in.ops++
		if in.ops > maxOps {
			panic(errPageTooBig)
		}
		n := stk.Len()
		args := make([]pdf.Value, n)
		for i := n - 1; i >= 0; i-- {
			args[i] = stk.Pop()
		}
		switch op {
		case "q":
			if len(stack) < 1000 {
				stack = append(stack, g)
			}
		case "Q":
			if len(stack) > 0 {
				g = stack[len(stack)-1]
				stack = stack[:len(stack)-1]
			}
		case "cm":
			if len(args) == 6 {
				var m matrix
				for i := range m {
					m[i] = num(args, i)
				}
				g.ctm = m.mul(g.ctm)
			}
		case "BT":
			tm, tlm = identity3, identity3
		case "Tc":
			g.tc = num(args, 0)
		case "Tw":
			g.tw = num(args, 0)
		case "Tz":
			g.th = num(args, 0) / 100
		case "TL":
			g.leading = num(args, 0)
		case "Ts":
			g.rise = num(args, 0)
		case "Tf":
			if len(args) == 2 {
				g.font = in.font(res, args[0].Name(), resID)
				g.size = num(args, 1)
			}
		case "Td", "TD":
			if op == "TD" {
				g.leading = -num(args, 1)
			}
			tlm = matrix{1, 0, 0, 1, num(args, 0), num(args, 1)}.mul(tlm)
			tm = tlm
		case "Tm":
			if len(args) == 6 {
				for i := range tm {
					tm[i] = num(args, i)
				}
				tlm = tm
			}
		case "T*":
			tlm = matrix{1, 0, 0, 1, 0, -g.leading}.mul(tlm)
			tm = tlm
		case "Tj", "'", "\"":
			if op == "\"" && len(args) == 3 {
				g.tw, g.tc = num(args, 0), num(args, 1)
				args = args[2:]
			}
			if op != "Tj" {
				tlm = matrix{1, 0, 0, 1, 0, -g.leading}.mul(tlm)
				tm = tlm
			}
			if len(args) > 0 {
				show(args[len(args)-1].RawString())
			}
		case "TJ":
			if len(args) == 0 {
				return
			}
			v := args[len(args)-1]
			for i := 0; i < v.Len(); i++ {
				x := v.Index(i)
				if x.Kind() == pdf.String {
					show(x.RawString())
					continue
				}
				tx := -x.Float64() / 1000 * g.size * g.th
				tm = matrix{1, 0, 0, 1, tx, 0}.mul(tm)
			}
		case "Do":
			if len(args) == 1 && depth < maxFormDepth {
				in.form(res, args[0].Name(), g, depth)
			}
		}
	})
}

// form interprets a form XObject drawn with Do.
func (in *interpreter) form(res pdf.Value, name string, g gstate, depth int) {
	x := res.Key("XObject").Key(name)
	if x.Kind() != pdf.Stream || x.Key("Subtype").Name() != "Form" {
		return
	}
	if id, ok := identity(x); ok {
		if in.forms[id] {
			return
		}
		in.forms[id] = true
		defer delete(in.forms, id)
	}
	if m := x.Key("Matrix"); m.Len() == 6 {
		var fm matrix
		for i := range fm {
			fm[i] = m.Index(i).Float64()
		}
		g.ctm = fm.mul(g.ctm)
	}
	fres := x.Key("Resources")
	resID := depth + 1
	if fres.Kind() != pdf.Dict {
		fres = res
		resID = depth
	}
	in.run(x, fres, g, depth+1, resID)
}

// font returns the cached font named in res.
func (in *interpreter) font(res pdf.Value, name string, resID int) *fontInfo {
	v := res.Key("Font").Key(name)
	key := fontKey{name: name, res: resID}
	if id, ok := identity(v); ok {
		key = fontKey{id: id}
	}
	if f, ok := in.fonts[key]; ok {
		return f
	}
	f := newFontInfo(v)
	in.fonts[key] = f
	return f
}
