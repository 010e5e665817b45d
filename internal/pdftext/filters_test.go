package pdftext

import (
	"bytes"
	"compress/zlib"
	"testing"
)

func TestDecodeStream(t *testing.T) {
	flate := func(b []byte) []byte {
		var z bytes.Buffer
		w := zlib.NewWriter(&z)
		w.Write(b)
		w.Close()
		return z.Bytes()
	}
	tests := []struct {
		name string
		dict string
		raw  []byte
		want string
	}{
		// The example of the PDF reference, 7.4.4.2.
		{"lzw", "<< /Filter /LZWDecode >>", []byte{0x80, 0x0b, 0x60, 0x50, 0x22, 0x0c, 0x0c, 0x85, 0x01}, "\x2d\x2d\x2d\x2d\x2d\x41\x2d\x2d\x2d\x42"},
		{"ascii hex", "<< /Filter /ASCIIHexDecode >>", []byte("48 65 6c6C 6f2>"), "Hello "},
		{"ascii hex then flate", "<< /Filter [/AHx /Fl] >>", []byte(hexOf(flate([]byte("BT (x) Tj ET"))) + ">"), "BT (x) Tj ET"},
		{"ascii85", "<< /Filter /A85 >>", []byte("87cURD]i,\"Ebo80~>"), "Hello World!"},
		{"run length", "<< /Filter /RunLengthDecode >>", []byte{2, 'a', 'b', 'c', 254, 'z', 128}, "abczzz"},
		{"png up predictor", "<< /Filter /FlateDecode /DecodeParms << /Predictor 15 /Columns 3 >> >>",
			flate([]byte{0, 'a', 'b', 'c', 2, 1, 1, 1}), "abcbcd"},
		{"png sub predictor", "<< /Filter /FlateDecode /DecodeParms << /Predictor 11 /Columns 3 >> >>",
			flate([]byte{1, 'a', 1, 1}), "abc"},
		{"tiff predictor", "<< /Filter /FlateDecode /DecodeParms << /Predictor 2 /Columns 3 >> >>",
			flate([]byte{'a', 1, 1}), "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeStream([]byte(tt.dict), tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	var s []byte
	for _, c := range b {
		s = append(s, digits[c>>4], digits[c&15])
	}
	return string(s)
}

func TestDropKeys(t *testing.T) {
	dict := "<< /Length 12 0 R /Filter [/AHx /Fl] /DecodeParms << /Predictor 12 /Columns 4 >> /Resources << /Font 3 0 R >> /BBox [0 0 1 1] >>"
	got := string(dropKeys([]byte(dict), "Filter", "DecodeParms", "Length"))
	want := "<<    /Resources << /Font 3 0 R >> /BBox [0 0 1 1] >>"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// FuzzDecodeStream guards the stream decoders against panics and unbounded
// output on hostile data.
func FuzzDecodeStream(f *testing.F) {
	f.Add("<< /Filter /LZWDecode >>", []byte{0x80, 0x0b, 0x60, 0x50, 0x22, 0x0c, 0x0c, 0x85, 0x01})
	f.Add("<< /Filter /FlateDecode /DecodeParms << /Predictor 15 /Columns 3 >> >>", []byte{0x78, 0x9c, 0x03, 0x00})
	f.Add("<< /Filter [/AHx /RL] >>", []byte("02616263fe7a80>"))
	f.Fuzz(func(t *testing.T, dict string, raw []byte) {
		out, err := decodeStream([]byte(dict), raw)
		if err == nil && len(out) > maxDecoded {
			t.Fatalf("decoded %d bytes", len(out))
		}
		dropKeys([]byte(dict), "Filter", "DecodeParms", "Length")
	})
}

// FuzzRepair guards the cross-reference rebuild against panics on hostile
// files.
func FuzzRepair(f *testing.F) {
	f.Add([]byte("%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer << /Root 1 0 R >>\n"))
	f.Add([]byte("1 0 obj << /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode >> stream\nxx\nendstream endobj"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		repair(data)
		diagnose(data)
	})
}
