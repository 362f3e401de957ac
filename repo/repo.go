package repo

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"github.com/mlgit/mlgit/repo/internal/live"
	"github.com/mlgit/mlgit/repo/journal"
	"github.com/mlgit/mlgit/repo/registry"
	"github.com/mlgit/mlgit/repo/runindex"
)

// DefaultBranch is the tracking branch's default name.
const DefaultBranch = "mlgit"

// Options configure Open and Init.
type Options struct {
	// Branch is the tracking branch (default "mlgit").
	Branch string
	// Now returns the current time (default time.Now).
	Now func() time.Time
}

// Repo is an open mlgit store.
type Repo struct {
	workTree string // "" for a bare repository
	gitDir   string
	branch   string
	now      func() time.Time

	mu sync.Mutex
	st *filesystem.Storage
	// objects reads and writes objects; st reads the Git configuration
	// and writes the objects that go-git encodes.
	objects *gitobj.DB
	refs    gitobj.Refs
	ident   *identity

	runCache map[plumbing.Hash]*manifest.Run
	index    *runindex.Cache // the run index of the last commit searched

	// group batches concurrent journal appends (package journal); live, when
	// set by StartLive, keeps the pending state in memory (live.go), and
	// liveIndex, with LiveOptions.Index, the run index (memindex.go).
	group *journal.Writer
	live  *live.View
	// commitDelay is LiveOptions.CommitDelay while live.
	commitDelay time.Duration
	liveIndex   *memIndex

	stateDir string
	// remote opens the blob remote for history blobs the cache lacks
	// (SetBlobRemote).
	remote blobRemote
}

// Branch returns the tracking branch's short name.
func (r *Repo) Branch() string { return r.branch }

// BranchRef returns the tracking branch's full ref name.
func (r *Repo) BranchRef() string { return "refs/heads/" + r.branch }

// GitDir returns the repository's Git directory.
func (r *Repo) GitDir() string { return r.gitDir }

// WorkTree returns the working tree ("" for a bare repository).
func (r *Repo) WorkTree() string { return r.workTree }

// StateDir returns <git-dir>/mlgit, where local state lives.
func (r *Repo) StateDir() string { return r.stateDir }

// Now returns the store's clock.
func (r *Repo) Now() time.Time { return r.now() }

func nowMillis(t time.Time) int64 { return t.UnixMilli() }

// findGitDir walks up from path to the repository's Git directory. It
// returns the common Git directory for linked worktrees.
func findGitDir(path string) (workTree, gitDir string, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", "", err
	}
	for dir := abs; ; {
		dotgit := filepath.Join(dir, ".git")
		if fi, err := os.Stat(dotgit); err == nil {
			if fi.IsDir() {
				return dir, dotgit, nil
			}
			b, err := os.ReadFile(dotgit)
			if err != nil {
				return "", "", err
			}
			s := strings.TrimSpace(string(b))
			if !strings.HasPrefix(s, "gitdir: ") {
				return "", "", fmt.Errorf("%s: %w: unexpected .git file", dir, ErrNotGitRepo)
			}
			gd := strings.TrimPrefix(s, "gitdir: ")
			if !filepath.IsAbs(gd) {
				gd = filepath.Join(dir, gd)
			}
			if c, err := os.ReadFile(filepath.Join(gd, "commondir")); err == nil {
				cd := strings.TrimSpace(string(c))
				if !filepath.IsAbs(cd) {
					cd = filepath.Join(gd, cd)
				}
				gd = cd
			}
			return dir, filepath.Clean(gd), nil
		}
		if isBareDir(dir) {
			return "", dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", "", fmt.Errorf("%s: %w (run git init, or mlgit init --bare-repo PATH)", abs, ErrNotGitRepo)
		}
		dir = parent
	}
}

func isBareDir(dir string) bool {
	for _, n := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			return false
		}
	}
	return true
}

func openAt(path string, opts Options) (*Repo, error) {
	wt, gd, err := findGitDir(path)
	if err != nil {
		return nil, err
	}
	r := &Repo{workTree: wt, gitDir: gd, branch: opts.Branch, now: opts.Now}
	if r.branch == "" {
		r.branch = DefaultBranch
	}
	if r.now == nil {
		r.now = time.Now
	}
	if err := registry.CheckBranchName(r.branch); err != nil {
		return nil, err
	}
	r.refs = gitobj.NewRefs(gd)
	r.stateDir = filepath.Join(gd, "mlgit")
	r.group = journal.NewWriter(r.journalDir())
	r.group.SetMaxSpares(maxSpares())
	r.st = newStorage(gd)
	r.objects = gitobj.Open(gd)
	r.index = runindex.NewCache(r.objects, r.indexPath())
	return r, nil
}

func newStorage(gitDir string) *filesystem.Storage {
	return filesystem.NewStorageWithOptions(osfs.New(gitDir), cache.NewObjectLRU(32*cache.MiByte), filesystem.Options{})
}

// Open opens the store of the Git repository containing path. It fails with
// ErrNotInitialized if the tracking branch does not exist.
func Open(path string, opts Options) (*Repo, error) {
	r, err := openAt(path, opts)
	if err != nil {
		return nil, err
	}
	tip, err := r.tip()
	if err != nil {
		return nil, err
	}
	if tip.IsZero() {
		return nil, fmt.Errorf("%w: %s has no branch %q; run mlgit init, or mlgit pull to get it from a remote", ErrNotInitialized, r.gitDir, r.branch)
	}
	r.recoverAfterCrash()
	return r, nil
}

// Close releases the store's resources.
func (r *Repo) Close() error {
	r.index.Wait()
	r.objects.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st.Close()
}

// tip returns the commit the tracking branch points at (zero if none).
func (r *Repo) tip() (plumbing.Hash, error) {
	return r.refs.Read(r.BranchRef())
}

// Tip returns the commit id the tracking branch points at.
func (r *Repo) Tip() (string, error) {
	h, err := r.tip()
	return h.String(), err
}

// identity is who signs commits and tags.
type identity struct {
	name, email string
}

func (r *Repo) identity() identity {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ident != nil {
		return *r.ident
	}
	id := identity{name: os.Getenv("GIT_AUTHOR_NAME"), email: os.Getenv("GIT_AUTHOR_EMAIL")}
	if id.name == "" || id.email == "" {
		if cfg, err := r.loadConfig(); err == nil {
			if id.name == "" {
				id.name = cfg.User.Name
			}
			if id.email == "" {
				id.email = cfg.User.Email
			}
		}
	}
	if id.name == "" {
		id.name = osUser()
	}
	if id.email == "" {
		host, _ := os.Hostname()
		id.email = id.name + "@" + host
	}
	r.ident = &id
	return id
}

// loadConfig merges the global and repository Git configuration.
func (r *Repo) loadConfig() (*config.Config, error) {
	global, err := config.LoadConfig(config.GlobalScope)
	if err != nil {
		global = config.NewConfig()
	}
	local, err := r.st.Config()
	if err != nil {
		return global, nil
	}
	if local.User.Name != "" {
		global.User.Name = local.User.Name
	}
	if local.User.Email != "" {
		global.User.Email = local.User.Email
	}
	return global, nil
}

// User returns the user name recorded on runs (MLflow's user_id).
func (r *Repo) User() string {
	if u := os.Getenv("MLGIT_USER"); u != "" {
		return u
	}
	return osUser()
}

func osUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

// NewRunID returns a fresh run id: 32 random lower-case hex characters.
func NewRunID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// NewExperimentID returns a random positive 63-bit decimal id, unique across
// clones without coordination.
func NewExperimentID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	v := binary.BigEndian.Uint64(b[:]) >> 1
	if v == 0 {
		v = 1
	}
	return fmt.Sprint(v)
}

// BlobCacheDir is the local blob cache shared by all runs of this
// repository: <git-dir>/mlgit/blobs, a blob store root (see package blob).
func (r *Repo) BlobCacheDir() string { return filepath.Join(r.stateDir, "blobs") }

// branchState is where the journal, checkpoint lock and run index of the
// tracking branch live: <git-dir>/mlgit for the default branch, and
// <git-dir>/mlgit/branches/<hex of the name> for any other, so that records
// logged for one tracking branch are never folded into another.
func (r *Repo) branchState() string {
	if r.branch == DefaultBranch {
		return r.stateDir
	}
	return filepath.Join(r.stateDir, "branches", hex.EncodeToString([]byte(r.branch)))
}
