package blob

import "time"

// GCSConfig says where a Google Cloud Storage store lives and how to reach
// it. OpenStore fills it from a gs:// URL.
type GCSConfig struct {
	// Bucket is the bucket name.
	Bucket string
	// Prefix is prepended to every key ("" or "a/b", without slashes at the
	// ends).
	Prefix string
	// Endpoint is the base URL of another server speaking the Cloud
	// Storage JSON API, "http://host:port" (an emulator) or
	// "https://host[:port]". Empty means STORAGE_EMULATOR_HOST if that is
	// set, else Google. An http:// endpoint gets no credentials, as the
	// client does for STORAGE_EMULATOR_HOST; an https:// one gets the
	// Application Default Credentials. Reads go through the JSON API there
	// (as writes always do), which any host name reaches.
	Endpoint string
	// MaxAttempts bounds the attempts of a request that fails with a
	// transient error (default 4).
	MaxAttempts int
	// DialTimeout bounds connecting to an http:// endpoint or the emulator
	// (default 5s).
	DialTimeout time.Duration
	// ResponseTimeout bounds the wait for response headers of an http://
	// endpoint or the emulator (default 60s).
	ResponseTimeout time.Duration
}
