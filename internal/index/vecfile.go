package index

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"unsafe"
)

// vecfile is the layout of one vector file generation (vectors-N.f32): a
// 64-byte header, then fixed-size records of an 8-byte chunk id and dim
// float32 values, all little-endian. Every part of the package that reads
// or writes records goes through it: the writer, readers, check, compact and
// vector reuse.
type vecfile struct{ dim int }

// recSize is the size of one record.
func (v vecfile) recSize() int64 { return recordSize(v.dim) }

// offset is where slot's record starts in the file.
func (v vecfile) offset(slot int) int64 { return vecHeaderSize + int64(slot)*v.recSize() }

// size is the length of a file holding slots records.
func (v vecfile) size(slots int) int64 { return v.offset(slots) }

// id is a record's chunk id.
func (vecfile) id(rec []byte) uint64 { return binary.LittleEndian.Uint64(rec) }

// vector decodes a record's values into a new slice.
func (v vecfile) vector(rec []byte) []float32 {
	out := make([]float32, v.dim)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(rec[8+4*i:]))
	}
	return out
}

// view is a record's values without copying where the machine is
// little-endian (the slice then points into rec), decoded otherwise.
func (v vecfile) view(rec []byte) []float32 {
	if littleEndian {
		return unsafe.Slice((*float32)(unsafe.Pointer(&rec[8])), v.dim)
	}
	return v.vector(rec)
}

// record is slot's record inside data, a mapping of the whole file.
func (v vecfile) record(data []byte, slot int) []byte {
	return data[v.offset(slot):v.offset(slot+1)]
}

// readAt reads slot's record from f into rec (recSize bytes).
func (v vecfile) readAt(f io.ReaderAt, slot int, rec []byte) error {
	if _, err := f.ReadAt(rec, v.offset(slot)); err != nil {
		return fmt.Errorf("read vector record %d: %w", slot, err)
	}
	return nil
}

// scanBuffer is how much of a vector file scan holds at once (a variable so
// tests can make a scan take many reads).
var scanBuffer = 4 << 20

// scan calls fn with each of the first slots records of f in slot order,
// reading a few MiB at a time: memory stays flat whatever the file's size.
// rec is valid only during the call.
func (v vecfile) scan(f io.ReaderAt, slots int, fn func(slot int, rec []byte) error) error {
	size := v.recSize()
	per := max(1, int(int64(scanBuffer)/size))
	buf := make([]byte, int64(per)*size)
	for start := 0; start < slots; start += per {
		n := min(per, slots-start)
		part := buf[:int64(n)*size]
		if _, err := f.ReadAt(part, v.offset(start)); err != nil {
			return fmt.Errorf("read vector records: %w", err)
		}
		for i := range n {
			if err := fn(start+i, part[int64(i)*size:int64(i+1)*size]); err != nil {
				return err
			}
		}
	}
	return nil
}

// create starts a new file at path with v's header, synced.
func (v vecfile) create(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create vector file: %w", err)
	}
	if _, err := f.WriteAt(vecHeader(v.dim), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("write vector file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("sync vector file: %w", err)
	}
	return f, nil
}
