package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
)

// The id scheme of stores shared by several machines.
//
// A chunk's id is a function of what it is: the path of its file, its place
// among the file's chunks (0, 1, 2...) and its text. Two ingests of the same
// file content, on one machine or two, after a crash or not, produce the same
// ids, so writing them again overwrites the same objects: no duplicates, and
// nothing to clean up but the chunks a new version no longer has. The place
// in the file keeps two equal paragraphs of one file apart.
//
// Ids are 53 bits: a JSON number holds them exactly, and the MCP and HTTP
// clients that read search results (JavaScript's numbers, Python's json
// into float) hand the same id back to get; a 62-bit id came back rounded
// and named no chunk. The price is the chance that two chunks of one store
// share an id: about 1 in 18,000 at a million chunks, 1 in 180 at ten
// million (n^2 / 2^54); the later of the two then replaces the other. The
// UUID layout below has room for 62 bits.
//
// An object id in Weaviate is a UUID; UUID maps an id onto one and ParseUUID
// back, without a lookup: bytes 0-7 are a fixed prefix ("rag" and the kind,
// with the version nibble 8 of RFC 9562's custom UUIDs), bytes 8-15 the id
// with the variant bits 10 in its two top bits. File records get ids of
// their own kind (FileID), so a chunk id can never name a file record.

// Kinds of objects, the fourth byte of the UUID prefix.
const (
	KindChunk byte = 'c'
	KindFile  byte = 'f'
	KindMeta  byte = 'm' // a store's metadata object, if it keeps one
)

const (
	idMask    = 1<<62 - 1 // what a UUID carries
	chunkMask = 1<<53 - 1 // what ChunkID and FileID use: exact in JSON
)

// ChunkID is the deterministic id of the chunk at place ordinal (0-based)
// among the chunks of the file at path, with this text. Never 0.
func ChunkID(path string, ordinal int, text string) uint64 {
	h := sha256.New()
	h.Write([]byte(path))
	h.Write([]byte{0})
	h.Write([]byte(strconv.Itoa(ordinal)))
	h.Write([]byte{0})
	h.Write([]byte(text))
	return nonZero(binary.BigEndian.Uint64(h.Sum(nil)) & chunkMask)
}

// FileID is the deterministic id of the record of the file at path.
func FileID(path string) uint64 {
	sum := sha256.Sum256([]byte("file\x00" + path))
	return nonZero(binary.BigEndian.Uint64(sum[:]) & chunkMask)
}

func nonZero(id uint64) uint64 {
	if id == 0 {
		return 1
	}
	return id
}

// UUID is the object UUID of id of this kind, in the canonical form
// (8-4-4-4-12 lowercase hex). Only the low 62 bits of id count.
func UUID(kind byte, id uint64) string {
	var b [16]byte
	copy(b[:], "rag")
	b[3] = kind
	b[6] = 0x80 // version 8
	binary.BigEndian.PutUint64(b[8:], id&idMask|1<<63)
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}

// ParseUUID returns the kind and id UUID encoded; ok is false for a UUID
// that is not one of rag's.
func ParseUUID(u string) (kind byte, id uint64, ok bool) {
	if len(u) != 36 || u[8] != '-' || u[13] != '-' || u[18] != '-' || u[23] != '-' {
		return 0, 0, false
	}
	var b [16]byte
	src := u[0:8] + u[9:13] + u[14:18] + u[19:23] + u[24:36]
	if _, err := hex.Decode(b[:], []byte(src)); err != nil {
		return 0, 0, false
	}
	if string(b[0:3]) != "rag" || b[4] != 0 || b[5] != 0 || b[6] != 0x80 || b[7] != 0 || b[8]>>6 != 2 {
		return 0, 0, false
	}
	return b[3], binary.BigEndian.Uint64(b[8:]) & idMask, true
}
