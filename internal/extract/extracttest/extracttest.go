// Package extracttest makes documents for tests of extraction: PDFs whose
// pages are text or only images of text, as a scanner makes them. It does
// not extract anything.
package extracttest

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// A scan page's image is drawn at 1:1 and placed at 0.6 pt a pixel: its
// glyphs are about 8 pt high, some 35 pixels once rendered for tesseract.
const scale, ptPerPixel = 1, 0.6

// ScanPage is one page of a generated PDF: text in a text layer, or
// (Scan) the same text only as the pixels of an image, as a scanner makes.
type ScanPage struct {
	Text string
	Scan bool
}

// textImage draws lines of text in black on white with basicfont's 7x13
// glyphs, each pixel scale x scale.
func textImage(lines []string, scale int) *image.Gray {
	const lineH = 18
	w := 0
	for _, l := range lines {
		w = max(w, 7*len(l))
	}
	// A page's worth of pixels (letter at 100 dpi), as a scanner makes.
	small := image.NewGray(image.Rect(0, 0, max(w+40, 850), max(lineH*len(lines)+40, 1100)))
	draw.Draw(small, small.Bounds(), image.White, image.Point{}, draw.Src)
	d := &font.Drawer{Dst: small, Src: image.NewUniform(color.Black), Face: basicfont.Face7x13}
	for i, l := range lines {
		d.Dot = fixed.P(20, 20+13+i*lineH)
		d.DrawString(l)
	}
	b := small.Bounds()
	big := image.NewGray(image.Rect(0, 0, b.Dx()*scale, b.Dy()*scale))
	for y := range big.Bounds().Dy() {
		for x := range big.Bounds().Dx() {
			big.Pix[y*big.Stride+x] = small.Pix[(y/scale)*small.Stride+x/scale]
		}
	}
	return big
}

// ScanPDF writes a PDF of US-letter pages: a text page shows its text in
// Helvetica; a scan page is one greyscale image (Flate-compressed pixels)
// of its text filling the top of the page, with no text layer.
func ScanPDF(pages ...ScanPage) []byte {
	var b bytes.Buffer
	var offsets []int
	obj := func(dict string, stream []byte) int {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s", len(offsets), dict)
		if stream != nil {
			fmt.Fprintf(&b, "\nstream\n%s\nendstream", stream)
		}
		b.WriteString("\nendobj\n")
		return len(offsets)
	}
	b.WriteString("%PDF-1.4\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>", nil)
	offsets = append(offsets, 0) // 2: the page tree, written last
	font := obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>", nil)
	var kids []string
	for _, p := range pages {
		var content string
		res := fmt.Sprintf("/Font << /F1 %d 0 R >>", font)
		if p.Scan {
			img := textImage(strings.Split(p.Text, "\n"), scale)
			var z bytes.Buffer
			zw := zlib.NewWriter(&z)
			zw.Write(img.Pix)
			zw.Close()
			w, h := img.Bounds().Dx(), img.Bounds().Dy()
			im := obj(fmt.Sprintf("<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode /Length %d >>", w, h, z.Len()), z.Bytes())
			res = fmt.Sprintf("/XObject << /Im1 %d 0 R >>", im)
			pw := float64(w) * ptPerPixel
			ph := float64(h) * ptPerPixel
			content = fmt.Sprintf("q %.2f 0 0 %.2f 0 %.2f cm /Im1 Do Q", pw, ph, 792-ph)
		} else {
			content = fmt.Sprintf("BT /F1 12 Tf 72 720 Td (%s) Tj ET", p.Text)
		}
		c := obj(fmt.Sprintf("<< /Length %d >>", len(content)), []byte(content))
		pg := obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << %s >> /Contents %d 0 R >>", res, c), nil)
		kids = append(kids, fmt.Sprintf("%d 0 R", pg))
	}
	offsets[1] = b.Len()
	fmt.Fprintf(&b, "2 0 obj\n<< /Type /Pages /Kids [%s] /Count %d >>\nendobj\n", strings.Join(kids, " "), len(kids))
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes()
}
