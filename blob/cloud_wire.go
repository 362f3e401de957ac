package blob

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"
)

// The protocol between mlgit and mlgit-blob-cloud, the program that serves
// gs:// and az:// stores (docs/architecture.md, "The blob store").
//
// mlgit starts the program with the argument "serve" and its own
// environment (credentials, emulator hosts, proxies). The program listens
// on a Unix socket in a new folder of mode 0700 below the temporary folder
// and prints one line on stdout:
//
//	mlgit-blob-cloud ready <protocol> <socket path>
//
// Then it serves HTTP/1.1 on the socket until its stdin reaches its end
// (mlgit closed it, or died). Requests, all below /v1/:
//
//	POST open            JSON {"url": U} -> {"store": ID, "location": L}
//	PUT  put?store&key   body of exactly Content-Length bytes -> 204
//	GET  get?store&key   200, the object streamed; a read error after the
//	                     first byte comes in the trailer Mlgit-Error
//	GET  stat?store&key  -> {"size": N}
//	POST exists?store    JSON [keys] -> {key: bool}
//	GET  list?store&prefix
//	                     a stream of JSON lines {"k","s","t"}, ended by
//	                     {"end": true} or {"err": E}
//	POST delete?store&key -> 204
//	POST close?store     -> 204
//
// Errors are JSON {"message": M, "kinds": [...]} with a status of 4xx or
// 5xx: the message is the store's error text, and the kinds name the
// sentinel errors it wraps, so the error mlgit returns has the same text
// and the same errors.Is answers as the store's own.

// CloudProgram is the name of the program that serves gs:// and az:// stores.
const CloudProgram = "mlgit-blob-cloud"

// CloudProgramEnv names the environment variable that, when set, is the
// path of the CloudProgram to run (instead of looking next to the running
// program and in PATH).
const CloudProgramEnv = "MLGIT_BLOB_CLOUD"

// cloudProtocol is the version of the protocol; the ready line carries it.
const cloudProtocol = "1"

// cloudPackage is what "go install" builds CloudProgram from.
const cloudPackage = "github.com/mlgit/mlgit/cmd/mlgit-blob-cloud"

// cloudTrailer carries an error that happened after a GET's body started.
const cloudTrailer = "Mlgit-Error"

// wireKinds are the sentinel errors that cross the protocol.
var wireKinds = []struct {
	name string
	err  error
}{
	{"not-found", ErrNotFound},
	{"corrupt", ErrCorrupt},
	{"invalid-key", ErrInvalidKey},
	{"size-mismatch", ErrSizeMismatch},
	{"invalid-digest", ErrInvalidDigest},
	{"access-denied", ErrAccessDenied},
	{"unavailable", ErrUnavailable},
	{"invalid-url", ErrInvalidURL},
	{"canceled", context.Canceled},
	{"deadline", context.DeadlineExceeded},
}

// wireError is an error as it crosses the protocol.
type wireError struct {
	Message string   `json:"message"`
	Kinds   []string `json:"kinds,omitempty"`
}

// toWire describes err for the other side.
func toWire(err error) wireError {
	w := wireError{Message: err.Error()}
	for _, k := range wireKinds {
		if errors.Is(err, k.err) {
			w.Kinds = append(w.Kinds, k.name)
		}
	}
	return w
}

// remoteError is an error of the store in mlgit-blob-cloud: its message,
// and the sentinels it wrapped there.
type remoteError struct {
	msg   string
	kinds []error
}

func (e *remoteError) Error() string   { return e.msg }
func (e *remoteError) Unwrap() []error { return e.kinds }

// fromWire turns a wireError back into an error.
func (w wireError) err() error {
	e := &remoteError{msg: w.Message}
	for _, name := range w.Kinds {
		for _, k := range wireKinds {
			if k.name == name {
				e.kinds = append(e.kinds, k.err)
			}
		}
	}
	return e
}

// encodeTrailer and decodeTrailer carry a wireError in a header value.
func encodeTrailer(err error) string {
	b, _ := json.Marshal(toWire(err))
	return base64.StdEncoding.EncodeToString(b)
}

func decodeTrailer(s string) error {
	b, err := base64.StdEncoding.DecodeString(s)
	var w wireError
	if err == nil {
		err = json.Unmarshal(b, &w)
	}
	if err != nil {
		return errors.New("undecodable error from " + CloudProgram)
	}
	return w.err()
}

// Bodies of requests and answers.
type (
	openRequest struct {
		URL string `json:"url"`
	}
	openAnswer struct {
		Store    string `json:"store"`
		Location string `json:"location"`
	}
	statAnswer struct {
		Size int64 `json:"size"`
	}
	listLine struct {
		Key     string     `json:"k,omitempty"`
		Size    int64      `json:"s,omitempty"`
		ModTime time.Time  `json:"t,omitzero"`
		End     bool       `json:"end,omitempty"`
		Err     *wireError `json:"err,omitempty"`
	}
)
