package blob

import "errors"

// Sentinel errors. Functions wrap them with context (the key or digest
// concerned); test for them with errors.Is, never by matching messages.
var (
	// ErrNotFound means the object (Store) or the file (Open, Verify, Keys,
	// Copy) does not exist. A file whose object exists but one of whose
	// chunks is missing is reported as ErrCorrupt instead.
	ErrNotFound = errors.New("object not found")

	// ErrCorrupt means stored bytes do not match their content address, a
	// stored object cannot be decoded, or a file references a chunk that is
	// missing. The wrapping message names the digest concerned.
	ErrCorrupt = errors.New("corrupt blob data")

	// ErrInvalidKey means a Store key is not a clean relative slash path:
	// empty, absolute, with a "." or ".." or empty segment, a segment
	// starting with ".", a backslash, a NUL or another control character.
	ErrInvalidKey = errors.New("invalid key")

	// ErrSizeMismatch means a reader given to Store.Put delivered more or
	// fewer bytes than the size it was announced with. Nothing is stored.
	ErrSizeMismatch = errors.New("size mismatch")

	// ErrInvalidDigest means a string is not a digest in the form
	// "sha256:<64 lowercase hex digits>".
	ErrInvalidDigest = errors.New("invalid digest")

	// ErrFileChanged means a file changed (size, modification time or
	// identity) while AddFile was reading it. Its file object is not
	// written; add it again once it is stable.
	ErrFileChanged = errors.New("file changed while being added")

	// ErrAccessDenied means the store refused the credentials or the
	// request (S3 403: wrong keys, expired token, missing permission).
	ErrAccessDenied = errors.New("access denied")

	// ErrUnavailable means the store could not be reached (connection
	// refused, DNS failure, timeout) after bounded retries.
	ErrUnavailable = errors.New("store unavailable")

	// ErrInvalidURL means OpenStore could not make sense of a store URL.
	ErrInvalidURL = errors.New("invalid store URL")
)
