// Package blob is mlgit's content-addressed store for large artifacts:
// digests, backends, content-defined chunking, compression, verified reads,
// transfers between stores and garbage collection. It knows nothing of
// manifests or Git.
//
// # Digests
//
// An artifact is named by the SHA-256 of its uncompressed bytes, written
// "sha256:<64 lowercase hex>" (the form Git LFS and OCI use); see Digest.
//
// # Backends
//
// A Store is a flat namespace of immutable objects under slash-path keys:
// Local (a folder), S3 (an S3-compatible bucket and prefix, via minio-go)
// and Mem (tests); Google Cloud Storage and Azure Blob Storage stores live
// in package blob/cloud and are served by the program mlgit-blob-cloud.
// OpenStore picks one from a URL. Puts are atomic and
// idempotent, an existing object is never rewritten, and every backend passes
// the one conformance suite in package blobtest.
//
// # Layout
//
// Below a store's root (a folder, or the bucket prefix):
//
//	files/<hex[0:2]>/<hex>    file object of the file with digest sha256:<hex>
//	chunks/<hex[0:2]>/<hex>   chunk with ID blake3:<hex> (of its raw bytes)
//
// A file object is a short text listing the file's chunks in order (format
// documented at fileMagic in format.go):
//
//	mlgit blob file v2
//	digest sha256:<hex of the whole file>
//	size <bytes>
//	chunk blake3:<hex> <bytes>      (one line per chunk)
//
// Files are named by SHA-256 (Digest), the name Git LFS and OCI use and
// that manifests record; chunks, which only a store sees, by BLAKE3-256
// (ChunkID), which hashes several times faster on the path of every add
// and every verified read.
//
// A chunk object is one header byte, 0 (raw bytes follow) or 1 (one zstd
// frame follows), then the payload. zstd is used only when it saves at least
// 1/32 of the chunk, so incompressible data (most float weights) is stored
// raw and read back without a decompression step; a few 4 KiB samples are
// compressed first, and a chunk whose samples do not shrink is stored raw
// without compressing all of it. The two-hex-digit shard
// folders keep folders small on file systems and give S3 LIST requests
// natural prefixes (Store.Exists lists a shard instead of sending many HEAD
// requests).
//
// # Chunking
//
// Files are cut into content-defined chunks with a FastCDC-style gear rolling
// hash and normalized chunking: no cut before MinChunkSize (256 KiB), a
// harder cut condition up to AvgChunkSize (1 MiB), an easier one after it,
// and a forced cut at MaxChunkSize (4 MiB). Measured on random data the mean
// is about 1.2 MiB. Why these sizes: model files are MBs to GBs, so chunks
// much smaller than 1 MiB would cost one S3 request and one file-object
// line (~80 bytes) per few KiB, and chunks much larger than 4 MiB would lose
// dedup on small edits and make each read-ahead buffer large. With 1 MiB
// chunks a 10 GiB checkpoint is ~10k objects and a 800 KB file object, and
// an edit costs about one to two chunks of re-upload around it. A second
// version that shares regions with the first stores only the new chunks.
// The chunker parameters and its gear table are part of the format: a test
// pins the boundaries they produce.
//
// # Writing and reading
//
// Add (and AddReader, AddFile) chunk, hash and store in parallel with
// bounded memory, writing chunks first and the file object last, so a
// visible file object always has its chunks and a failed or interrupted add
// leaves at most unreferenced chunks that a retry reuses. Chunks are hashed
// and written straight from the chunker's read buffers. On a Local store
// their durability is batched (local_batch.go): each chunk is written to a
// staging file, fsynced in the background and only then linked to its
// name, and the folders are fsynced once, before the file object is
// written; the add is durable when it returns, as with one fsync per
// object. AddFile refuses a
// file that changed while it was read. Open streams a file back, fetching a
// few chunks ahead, verifying every chunk's hash before handing out its
// bytes and the whole file's hash at the end; damage anywhere is an error
// wrapping ErrCorrupt that names the digest, never silently wrong bytes.
// OpenWith with WholeFileCheck skips the per-chunk hashes and relies on the
// whole-file hash alone (half the hashing), for consumers that discard what
// they read unless the reader reaches io.EOF.
// Verify reads everything; Has and Keys answer what is there.
//
// # Transfers and garbage collection
//
// Copy moves files between stores (push to or pull from a remote): it skips
// what the destination has, copies missing chunks in parallel (verifying
// each), then file objects, and reports progress; re-running it after an
// interruption completes it. GC removes file objects that are not kept and
// chunks no remaining file references, sparing anything newer than a
// cut-off; it must not run concurrently with adds to the same store.
//
// # Errors
//
// Errors wrap the sentinels declared in errors.go (ErrNotFound, ErrCorrupt,
// ErrInvalidKey, ErrSizeMismatch, ErrAccessDenied, ErrUnavailable, ...); test
// them with errors.Is.
package blob
