package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/repo"
)

// OpenCacheOr opens the blob cache with open (tests inject failing
// stores), or the local one when open is nil.
func OpenCacheOr(open func(*repo.Repo) (blob.Store, error), r *repo.Repo) (blob.Store, error) {
	if open == nil {
		open = OpenLocalBlobCache
	}
	return open(r)
}

// OpenLocalBlobCache opens the repository's local blob cache.
func OpenLocalBlobCache(r *repo.Repo) (blob.Store, error) {
	return blob.NewLocal(r.BlobCacheDir())
}

// BlobRemoteURL returns the blob remote and where it was found: the flag,
// else $MLGIT_BLOB_REMOTE, else blobs.remote in mlgit.yaml (where a relative
// folder is relative to the repository's top folder). With none, it fails
// with a usage error naming all three.
func (a *App) BlobRemoteURL(r *repo.Repo, flag string) (url, from string, err error) {
	if flag != "" {
		return flag, "--remote", nil
	}
	if env := a.Getenv("MLGIT_BLOB_REMOTE"); env != "" {
		return env, "$MLGIT_BLOB_REMOTE", nil
	}
	if lc, err := ReadLocalConfig(r); err != nil {
		return "", "", err
	} else if lc.Blobs.Remote != "" {
		return lc.Blobs.Remote, "blobs.remote of this clone (mlgit config --local)", nil
	}
	cfg, err := r.Config()
	if err != nil {
		return "", "", err
	}
	if u := cfg.Blobs.Remote; u != "" {
		return r.BlobRemotePath(u), "blobs.remote in mlgit.yaml", nil
	}
	return "", "", Usagef("no blob remote: pass --remote URL, set MLGIT_BLOB_REMOTE, or mlgit config set blobs.remote URL (a folder, file:///path, s3://, gs:// or az:// URL)")
}

// OpenBlobStore opens a store URL, turning a malformed URL into a usage
// error. open defaults to blob.OpenStore.
func (a *App) OpenBlobStore(ctx context.Context, url string, open func(context.Context, string) (blob.Store, error)) (blob.Store, error) {
	if open == nil {
		open = blob.OpenStore
	}
	st, err := open(ctx, url)
	if err != nil {
		if errors.Is(err, blob.ErrInvalidURL) {
			return nil, Usagef("blob remote %q: %v", url, err)
		}
		return nil, fmt.Errorf("blob remote %s: %w", url, err)
	}
	return st, nil
}
