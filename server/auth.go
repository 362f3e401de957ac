package server

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Auth checks credentials against a file of hashed secrets. Each line is
//
//	user  <name> <hash>    a Basic user (MLFLOW_TRACKING_USERNAME/PASSWORD)
//	token <name> <hash>    a bearer token (MLFLOW_TRACKING_TOKEN)
//
// where <hash> is a bcrypt hash ($2a$/$2b$/$2y$..., e.g. from
// `htpasswd -nbBC 12 "" secret | cut -d: -f2`) or sha256$<salt-hex>$<hex>
// with <hex> = SHA-256(salt bytes || secret), for high-entropy tokens where
// bcrypt's cost buys nothing. Blank lines and lines starting with # are
// ignored. Secrets are never stored in clear.
//
// Successful checks are remembered for a few minutes, keyed by a SHA-256 of
// the credentials, so that bcrypt's deliberate slowness is paid once per
// client and not on every log_metric.
type Auth struct {
	users  map[string]string
	tokens []namedHash

	mu    sync.Mutex
	cache map[[32]byte]time.Time
}

type namedHash struct{ name, hash string }

const authCacheTTL = 5 * time.Minute

// LoadAuthFile reads an auth file (see Auth).
func LoadAuthFile(path string) (*Auth, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth file: %w", err)
	}
	defer f.Close()
	a, err := ParseAuth(f)
	if err != nil {
		return nil, fmt.Errorf("auth file %s: %w", path, err)
	}
	return a, nil
}

// ParseAuth parses the auth file format (see Auth).
func ParseAuth(r io.Reader) (*Auth, error) {
	a := &Auth{users: map[string]string{}, cache: map[[32]byte]time.Time{}}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d: want \"user|token <name> <hash>\"", n)
		}
		if !validHash(f[2]) {
			return nil, fmt.Errorf("line %d: %q is not a bcrypt hash or sha256$<salt>$<hex>; secrets must be stored hashed", n, f[1])
		}
		switch f[0] {
		case "user":
			if strings.Contains(f[1], ":") {
				return nil, fmt.Errorf("line %d: user name %q must not contain ':'", n, f[1])
			}
			a.users[f[1]] = f[2]
		case "token":
			a.tokens = append(a.tokens, namedHash{f[1], f[2]})
		default:
			return nil, fmt.Errorf("line %d: kind %q is not user or token", n, f[0])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(a.users) == 0 && len(a.tokens) == 0 {
		return nil, fmt.Errorf("no users or tokens")
	}
	return a, nil
}

func validHash(h string) bool {
	if strings.HasPrefix(h, "$2") {
		_, err := bcrypt.Cost([]byte(h))
		return err == nil
	}
	salt, sum, ok := splitSHA(h)
	return ok && len(salt) > 0 && len(sum) == sha256.Size
}

func splitSHA(h string) (salt, sum []byte, ok bool) {
	parts := strings.Split(h, "$")
	if len(parts) != 3 || parts[0] != "sha256" {
		return nil, nil, false
	}
	salt, err1 := hex.DecodeString(parts[1])
	sum, err2 := hex.DecodeString(parts[2])
	return salt, sum, err1 == nil && err2 == nil
}

// HashSHA256 returns the sha256$<salt>$<hex> form of secret with salt.
func HashSHA256(salt []byte, secret string) string {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(secret))
	return "sha256$" + hex.EncodeToString(salt) + "$" + hex.EncodeToString(h.Sum(nil))
}

func matchHash(hash, secret string) bool {
	if strings.HasPrefix(hash, "$2") {
		return bcrypt.CompareHashAndPassword([]byte(hash), []byte(secret)) == nil
	}
	salt, sum, ok := splitSHA(hash)
	if !ok {
		return false
	}
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(secret))
	return subtle.ConstantTimeCompare(h.Sum(nil), sum) == 1
}

// check authenticates r, returning an UNAUTHENTICATED error if it fails.
func (a *Auth) check(r *http.Request) error {
	h := r.Header.Get("Authorization")
	if h == "" {
		return errorf(codeUnauthenticated, "authentication required: set MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD")
	}
	key := sha256.Sum256([]byte(h))
	now := time.Now()
	a.mu.Lock()
	t, ok := a.cache[key]
	a.mu.Unlock()
	if ok && now.Sub(t) < authCacheTTL {
		return nil
	}
	if !a.verify(r, h) {
		return errorf(codeUnauthenticated, "invalid credentials")
	}
	a.mu.Lock()
	if len(a.cache) > 10000 {
		a.cache = map[[32]byte]time.Time{}
	}
	a.cache[key] = now
	a.mu.Unlock()
	return nil
}

func (a *Auth) verify(r *http.Request, h string) bool {
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
		tok = strings.TrimSpace(tok)
		for _, t := range a.tokens {
			if matchHash(t.hash, tok) {
				return true
			}
		}
		return false
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	hash, ok := a.users[user]
	if !ok {
		// Spend the same time as a wrong password, so user names cannot
		// be probed by timing.
		bcrypt.CompareHashAndPassword(dummyHash(), []byte(pass))
		return false
	}
	return matchHash(hash, pass)
}

// dummyHash is made on first use, so that importing the package costs
// nothing.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("mlgit-dummy"), bcrypt.DefaultCost)
	return h
})
