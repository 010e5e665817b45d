package pdftext

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
)

// maxXrefObjects bounds object numbers in cross-reference sections: the
// library allocates a table as large as the highest number it sees, so a tiny
// file claiming object 4,000,000,000 kills the process with out-of-memory.
const maxXrefObjects = 20_000_000

// maxGuardBytes is the largest file that precheck scans; bigger files go to
// the library unchecked.
const maxGuardBytes = 256 << 20

var (
	xrefSubsectionRE = regexp.MustCompile(`(?:^|[\r\n])xref\s+(\d+)\s+(\d+)|[\r\n](\d+)\s+(\d+)\s*\r?\n\d{10} \d{5} [nf]`)
	sizeRE           = regexp.MustCompile(`/Size\s+(\d+)`)
	startxrefRE      = regexp.MustCompile(`startxref\s+(\d+)`)
	prevRE           = regexp.MustCompile(`/Prev\s+(\d+)`)
)

// precheck refuses files that are known to make the library run out of
// memory or loop forever before it returns from NewReader: absurd object
// numbers in the cross-reference data, and a /Prev chain that loops.
func precheck(data []byte) error {
	for _, m := range xrefSubsectionRE.FindAllSubmatch(data, 10000) {
		a, b := m[1], m[2]
		if a == nil {
			a, b = m[3], m[4]
		}
		start, err1 := strconv.ParseUint(string(a), 10, 64)
		count, err2 := strconv.ParseUint(string(b), 10, 64)
		if err1 != nil || err2 != nil || start+count > maxXrefObjects {
			return fmt.Errorf("check xref: %w: subsection %s %s too large", ErrMalformed, a, b)
		}
	}
	for _, m := range sizeRE.FindAllSubmatch(data, 10000) {
		if n, err := strconv.ParseUint(string(m[1]), 10, 64); err != nil || n > maxXrefObjects {
			return fmt.Errorf("check xref: %w: /Size %s too large", ErrMalformed, m[1])
		}
	}
	// Follow startxref and /Prev: the library does not notice a section
	// that names itself (or an earlier one) as previous.
	ms := startxrefRE.FindAllSubmatch(data, -1)
	if len(ms) == 0 {
		return nil
	}
	off, err := strconv.ParseInt(string(ms[len(ms)-1][1]), 10, 64)
	seen := map[int64]bool{}
	for err == nil && off >= 0 && off < int64(len(data)) {
		if seen[off] {
			return fmt.Errorf("check xref: %w: /Prev chain loops at offset %d", ErrMalformed, off)
		}
		seen[off] = true
		rest := data[off:]
		if i := bytes.Index(rest, []byte("startxref")); i >= 0 {
			rest = rest[:i]
		}
		m := prevRE.FindSubmatch(rest)
		if m == nil {
			break
		}
		off, err = strconv.ParseInt(string(m[1]), 10, 64)
	}
	return nil
}
