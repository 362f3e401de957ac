package blob

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Object layout below a store's root (see doc.go):
//
//	chunks/<hex[0:2]>/<hex>   one chunk (hex of its BLAKE3 ChunkID): a 1-byte
//	                          header, then the payload
//	files/<hex[0:2]>/<hex>    one file object (hex of the file's SHA-256
//	                          Digest): the file's chunk list (text)
const (
	chunkDir = "chunks/"
	fileDir  = "files/"
)

// Chunk object headers.
const (
	chunkRaw  byte = 0 // payload is the chunk's bytes
	chunkZstd byte = 1 // payload is one zstd frame of the chunk's bytes
)

// ChunkKey returns the store key of the chunk with ID id.
func ChunkKey(id ChunkID) string { h := id.Hex(); return chunkDir + h[:2] + "/" + h }

// FileKey returns the store key of the file object of the file with digest d.
func FileKey(d Digest) string { h := d.Hex(); return fileDir + h[:2] + "/" + h }

// parseShardedKey returns the hash a "<dir><hex[:2]>/<hex>" key names: a
// Digest below files/, a ChunkID below chunks/.
func parseShardedKey(dir, key string) ([32]byte, bool) {
	if len(key) != len(dir)+3+64 || key[:len(dir)] != dir || key[len(dir)+2] != '/' {
		return [32]byte{}, false
	}
	h := key[len(dir)+3:]
	if key[len(dir):len(dir)+2] != h[:2] {
		return [32]byte{}, false
	}
	d, err := parseHash32(h)
	return d, err == nil
}

var (
	zstdOnce sync.Once
	zstdEnc  *zstd.Encoder
	zstdDec  *zstd.Decoder
)

// codecs returns the process-wide zstd encoder and decoder. EncodeAll and
// DecodeAll are safe for concurrent use and reuse their internal state. The
// decoder refuses to produce more than MaxChunkSize bytes, so a hostile
// chunk cannot make it allocate much.
func codecs() (*zstd.Encoder, *zstd.Decoder) {
	zstdOnce.Do(func() {
		var err error
		zstdEnc, err = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
			zstd.WithEncoderCRC(false), // chunks are verified by their BLAKE3 ID
			zstd.WithZeroFrames(true))
		if err != nil {
			panic(err)
		}
		zstdDec, err = zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)),
			zstd.WithDecoderMaxMemory(MaxChunkSize),
			zstd.WithDecoderMaxWindow(MaxChunkSize))
		if err != nil {
			panic(err)
		}
	})
	return zstdEnc, zstdDec
}

// encodeChunk appends the stored form of raw to dst: zstd if that saves at
// least 1/32 of the size, raw bytes otherwise (a smaller gain is not worth
// the decompression on every read). Chunks whose samples do not compress
// are stored raw without compressing the whole chunk (see compressible).
func encodeChunk(dst, raw []byte) []byte {
	if z, ok := compressChunk(dst, raw); ok {
		return z
	}
	dst = append(dst[:0], chunkRaw)
	return append(dst, raw...)
}

// compressChunk returns the zstd chunk object of raw, built in dst, and
// true if it is worth storing (see encodeChunk); else false.
func compressChunk(dst, raw []byte) ([]byte, bool) {
	if !compressible(raw) {
		return dst, false
	}
	enc, _ := codecs()
	dst = append(dst[:0], chunkZstd)
	dst = enc.EncodeAll(raw, dst)
	return dst, len(dst)-1 < len(raw)-len(raw)/32
}

// Compression probe: chunks larger than probeMin are sampled at
// probeSamples evenly spaced places, probeSize bytes each.
const (
	probeMin     = 256 << 10
	probeSamples = 4
	probeSize    = 4 << 10
)

// compressible guesses cheaply whether compressing raw could save 1/32: it
// compresses a few evenly spaced samples and says no when together they
// shrink by less than 1/16. Incompressible data (most float weights,
// already-compressed files) then costs a few small compressions instead of
// one of the whole chunk. The guess only chooses between two valid stored
// forms; it never changes what is read back.
func compressible(raw []byte) bool {
	if len(raw) <= probeMin {
		return true
	}
	enc, _ := codecs()
	var in, out int
	var buf []byte
	step := (len(raw) - probeSize) / (probeSamples - 1)
	for i := range probeSamples {
		sample := raw[i*step : i*step+probeSize]
		buf = enc.EncodeAll(sample, buf[:0])
		in += len(sample)
		out += len(buf)
	}
	return out < in-in/16
}

// decodeChunk decodes a stored chunk into dst (reused) and checks that it has
// want's size and ID. Errors wrap ErrCorrupt and name the chunk. For a
// raw chunk the result is obj's payload itself, not a copy: it aliases obj
// (see keepsDecodeBuffer).
func decodeChunk(dst, obj []byte, want chunkRef) ([]byte, error) {
	out, err := decodeChunkData(dst, obj, want)
	if err != nil {
		return out, err
	}
	if got := chunkSum(out); got != want.ID {
		return nil, fmt.Errorf("chunk %s: %w: content hash is %s", want.ID, ErrCorrupt, got)
	}
	return out, nil
}

// decodeChunkData is decodeChunk without the hash check: it decodes and
// checks the size only. Readers that check the whole file's hash instead
// use it (OpenOptions.WholeFileCheck).
func decodeChunkData(dst, obj []byte, want chunkRef) ([]byte, error) {
	if len(obj) == 0 {
		return nil, fmt.Errorf("chunk %s: %w: empty object", want.ID, ErrCorrupt)
	}
	var out []byte
	switch obj[0] {
	case chunkRaw:
		out = obj[1:]
	case chunkZstd:
		_, dec := codecs()
		var err error
		out, err = dec.DecodeAll(obj[1:], dst[:0])
		if err != nil {
			return nil, fmt.Errorf("chunk %s: %w: cannot decompress: %v", want.ID, ErrCorrupt, err)
		}
	default:
		return nil, fmt.Errorf("chunk %s: %w: unknown header byte %#x", want.ID, ErrCorrupt, obj[0])
	}
	if int64(len(out)) != want.Size {
		return nil, fmt.Errorf("chunk %s: %w: %d bytes, want %d", want.ID, ErrCorrupt, len(out), want.Size)
	}
	return out, nil
}

// keepsDecodeBuffer reports whether decoding obj produced its result in
// the dst buffer (a zstd chunk), which the caller may then keep for reuse;
// a raw chunk's result aliases obj and must not become a dst buffer.
func keepsDecodeBuffer(obj []byte) bool { return len(obj) > 0 && obj[0] == chunkZstd }

// chunkRef names one chunk of a file.
type chunkRef struct {
	ID   ChunkID
	Size int64
}

// fileIndex is the decoded file object: which chunks, in order, make up the
// file with Digest and Size.
type fileIndex struct {
	Digest Digest
	Size   int64
	Chunks []chunkRef
}

// File object format, version 2. It is text so a person can read it with
// any S3 browser. It MUST be exactly:
//
//	mlgit blob file v2\n
//	digest sha256:<hex>\n          the whole file's SHA-256 (its Digest)
//	size <n>\n                     decimal, no sign, no leading zeros
//	chunk blake3:<hex> <n>\n       once per chunk, in file order: its ChunkID
//	                               and size
//
// Chunk sizes MUST be in [1, MaxChunkSize] and add up to size; an empty file
// has no chunk lines. Decoders reject anything else (strict: one canonical
// encoding, so encode(decode(x)) == x), version 1 included (its chunks
// were named by SHA-256; no store of that version was ever published).
const fileMagic = "mlgit blob file v2\n"

// maxFileObject bounds a file object's size: about 3.4 million chunks, or
// 3 TiB of content at the average chunk size.
const maxFileObject = 256 << 20

func (fi *fileIndex) encode() []byte {
	var b bytes.Buffer
	b.Grow(len(fileMagic) + 100 + len(fi.Chunks)*(len("chunk "+chunkPrefix+" \n")+64+8))
	b.WriteString(fileMagic)
	b.WriteString("digest ")
	b.WriteString(fi.Digest.String())
	b.WriteString("\nsize ")
	b.WriteString(strconv.FormatInt(fi.Size, 10))
	b.WriteByte('\n')
	for _, c := range fi.Chunks {
		b.WriteString("chunk ")
		b.WriteString(c.ID.String())
		b.WriteByte(' ')
		b.WriteString(strconv.FormatInt(c.Size, 10))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

var errFileFormat = errors.New("malformed file object")

// decodeFileIndex parses a file object strictly.
func decodeFileIndex(b []byte) (*fileIndex, error) {
	bad := func(line int, format string, args ...any) error {
		return fmt.Errorf("%w: line %d: %s", errFileFormat, line, fmt.Sprintf(format, args...))
	}
	if len(b) > maxFileObject {
		return nil, fmt.Errorf("%w: %d bytes is larger than %d", errFileFormat, len(b), maxFileObject)
	}
	if !bytes.HasPrefix(b, []byte(fileMagic)) {
		return nil, bad(1, "does not start with %q", fileMagic)
	}
	rest := b[len(fileMagic):]
	lineNo := 1
	nextLine := func() ([]byte, bool) {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return nil, false
		}
		l := rest[:i]
		rest = rest[i+1:]
		lineNo++
		return l, true
	}
	fi := &fileIndex{}
	l, ok := nextLine()
	if !ok || !bytes.HasPrefix(l, []byte("digest ")) {
		return nil, bad(lineNo+1, "want \"digest sha256:<hex>\"")
	}
	d, err := ParseDigest(string(l[len("digest "):]))
	if err != nil {
		return nil, bad(lineNo, "%v", err)
	}
	fi.Digest = d
	l, ok = nextLine()
	if !ok || !bytes.HasPrefix(l, []byte("size ")) {
		return nil, bad(lineNo+1, "want \"size <n>\"")
	}
	fi.Size, err = parseSize(l[len("size "):])
	if err != nil {
		return nil, bad(lineNo, "%v", err)
	}
	var sum int64
	for len(rest) > 0 {
		l, ok := nextLine()
		if !ok {
			return nil, bad(lineNo+1, "missing final newline")
		}
		const pre = "chunk " + chunkPrefix
		if len(l) < len(pre)+64+2 || string(l[:len(pre)]) != pre || l[len(pre)+64] != ' ' {
			return nil, bad(lineNo, "want \"chunk blake3:<hex> <n>\"")
		}
		cd, err := parseHash32(string(l[len(pre) : len(pre)+64]))
		if err != nil {
			return nil, bad(lineNo, "%v", err)
		}
		n, err := parseSize(l[len(pre)+65:])
		if err != nil {
			return nil, bad(lineNo, "%v", err)
		}
		if n < 1 || n > MaxChunkSize {
			return nil, bad(lineNo, "chunk size %d outside [1, %d]", n, MaxChunkSize)
		}
		sum += n
		if sum > fi.Size {
			return nil, bad(lineNo, "chunk sizes add up to more than size %d", fi.Size)
		}
		fi.Chunks = append(fi.Chunks, chunkRef{ID: cd, Size: n})
	}
	if sum != fi.Size {
		return nil, fmt.Errorf("%w: chunk sizes add up to %d, want size %d", errFileFormat, sum, fi.Size)
	}
	return fi, nil
}

// parseSize parses a canonical non-negative decimal (no sign, no leading
// zeros, fits in int64).
func parseSize(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 19 || (b[0] == '0' && len(b) > 1) {
		return 0, fmt.Errorf("size %q is not a canonical decimal", b)
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("size %q is not a canonical decimal", b)
		}
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %v", b, err)
	}
	return n, nil
}
