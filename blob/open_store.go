package blob

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
)

// OpenStore opens the store a URL names:
//
//	/abs/path, rel/path        a Local store in that folder (created if needed)
//	file:///abs/path           the same
//	s3://bucket[/prefix][?endpoint=http://host:port&region=r&path-style=true]
//	                           an S3 store; the rest comes from the environment
//	                           as S3ConfigFromEnv describes; query values win
//	mem://name                 an in-memory store, shared by all OpenStore
//	                           calls with the same name in this process
//
// Errors wrap ErrInvalidURL for URLs it cannot parse, and for S3 whatever
// NewS3 reports when the bucket cannot be reached.
func OpenStore(ctx context.Context, rawURL string) (Store, error) {
	if rawURL == "" {
		return nil, fmt.Errorf("%w: empty store URL", ErrInvalidURL)
	}
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		if strings.ContainsRune(rawURL, 0) {
			return nil, fmt.Errorf("%w: %q contains a NUL byte", ErrInvalidURL, rawURL)
		}
		return NewLocal(rawURL)
	}
	switch strings.ToLower(scheme) {
	case "file":
		u, err := url.Parse(rawURL)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidURL, err)
		}
		if (u.Host != "" && u.Host != "localhost") || !strings.HasPrefix(u.Path, "/") || u.RawQuery != "" {
			return nil, fmt.Errorf("%w: %q: want file:///absolute/path", ErrInvalidURL, rawURL)
		}
		return NewLocal(u.Path)
	case "mem":
		if rest == "" || strings.ContainsAny(rest, "/?#") {
			return nil, fmt.Errorf("%w: %q: want mem://name", ErrInvalidURL, rawURL)
		}
		return namedMem(rest), nil
	case "s3":
		cfg, err := ParseS3URL(rawURL)
		if err != nil {
			return nil, err
		}
		return NewS3(ctx, cfg)
	}
	return nil, fmt.Errorf("%w: %q: unknown scheme %q (want a path, file://, s3:// or mem://)", ErrInvalidURL, rawURL, scheme)
}

// ParseS3URL turns s3://bucket/prefix?query into an S3Config, starting from
// S3ConfigFromEnv and applying the query: endpoint, region, path-style
// (true/false) and profile. Unknown query keys are an error.
func ParseS3URL(rawURL string) (S3Config, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return S3Config{}, fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	if u.Scheme != "s3" || u.Host == "" || u.User != nil || u.Fragment != "" {
		return S3Config{}, fmt.Errorf("%w: %q: want s3://bucket[/prefix][?endpoint=...&region=...&path-style=true]", ErrInvalidURL, rawURL)
	}
	q := u.Query()
	cfg := S3ConfigFromEnv(u.Host, u.Path)
	if p := q.Get("profile"); p != "" {
		// The profile decides which config section supplies the defaults.
		cfg = s3ConfigFromEnvProfile(u.Host, u.Path, p)
	}
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "endpoint":
			cfg.Endpoint = v
		case "region":
			cfg.Region = v
		case "profile":
			cfg.Profile = v
		case "path-style":
			switch strings.ToLower(v) {
			case "", "1", "true", "yes", "on":
				cfg.PathStyle = true
			case "0", "false", "no", "off":
				cfg.PathStyle = false
			default:
				return S3Config{}, fmt.Errorf("%w: %q: path-style=%q is not true or false", ErrInvalidURL, rawURL, v)
			}
		default:
			return S3Config{}, fmt.Errorf("%w: %q: unknown option %q (known: endpoint, region, path-style, profile)", ErrInvalidURL, rawURL, k)
		}
	}
	if p := strings.Trim(cfg.Prefix, "/"); p != "" {
		if err := ValidateKey(p); err != nil {
			return S3Config{}, fmt.Errorf("%w: %q: prefix: %v", ErrInvalidURL, rawURL, err)
		}
	}
	return cfg, nil
}

var (
	memStoresMu sync.Mutex
	memStores   = map[string]*Mem{}
)

// namedMem returns the process-wide Mem store called name.
func namedMem(name string) *Mem {
	memStoresMu.Lock()
	defer memStoresMu.Unlock()
	m := memStores[name]
	if m == nil {
		m = NewMem(name)
		memStores[name] = m
	}
	return m
}
