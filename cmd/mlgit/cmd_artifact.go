package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/internal/units"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
)

func newRunArtifactCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "artifact <command>",
		Short: "Add, list and get a run's artifacts (files in the blob store)",
		Long: `Artifacts are files of a run: model weights, plots, datasets. Their bytes go to
the content-addressed blob store (the local cache under .git/mlgit/blobs, shared
by all runs; share it with mlgit blob push); the run's manifest records each
file's path, sha256 digest, size and mode.`,
		Example: `  mlgit run artifact add model/ plots/loss.png
  mlgit run artifact ls 3f2a9c1e
  mlgit run artifact get 3f2a9c1e model -o ./restored`,
	}
	cmd.AddCommand(newRunArtifactAddCmd(a, nil), newRunArtifactLsCmd(a, nil), newRunArtifactGetCmd(a, nil))
	return cmd
}

// openLocalBlobCache opens the repository's local blob cache.
// openCacheOr opens the blob cache with open (tests inject failing
// stores), or the local one when open is nil.
func openCacheOr(open func(*repo.Repo) (blob.Store, error), r *repo.Repo) (blob.Store, error) {
	if open == nil {
		open = openLocalBlobCache
	}
	return open(r)
}

func openLocalBlobCache(r *repo.Repo) (blob.Store, error) {
	return blob.NewLocal(r.BlobCacheDir())
}

// ---- add

type artifactAddOptions struct {
	Run    string
	As     string
	Paths  []string
	AsJSON bool
	// OpenCache opens the store artifacts are added to (default: the
	// local blob cache). Tests inject failing stores here.
	OpenCache func(*repo.Repo) (blob.Store, error)
}

func newRunArtifactAddCmd(a *app, runF func(context.Context, *artifactAddOptions) error) *cobra.Command {
	o := &artifactAddOptions{}
	cmd := &cobra.Command{
		Use:   "add <path>... [--run ID] [--as DIR] [--json]",
		Short: "Store files and folders as artifacts of a run",
		Long: `Store files and folders in the blob cache and record them as artifacts of the
run (--run ID, else $MLGIT_RUN_ID).

A file becomes the artifact DIR/<name>; a folder becomes DIR/<name>/... with all
the files below it (paths relative, with forward slashes); "folder/." adds the
folder's contents without its name. DIR (--as) defaults to the top level. Adding
a path the run already has replaces that artifact.

Symbolic links inside a folder are followed when they point to a file inside
that folder; a link that points outside it, to a folder, or nowhere is an
error. Links named on the command line are followed. Folders named .git are
skipped. Files are stored with their mode (0755 when executable, else 0644).

Every file is stored first and the run records them all in one write at the
end: if any file is missing or unreadable, changes while it is read, or the
disk fills up, the command fails and the run records nothing.`,
		Example: `  mlgit run artifact add model/ metrics/confusion.png
  mlgit run artifact add --run 3f2a9c1e weights.safetensors --as checkpoints/epoch-10
  mlgit run artifact add outputs/. --json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Paths = args
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runArtifactAdd(cmd.Context(), a, o)
		},
	}
	cmd.Flags().StringVar(&o.Run, "run", "", "run `ID` or unique prefix (default $MLGIT_RUN_ID)")
	cmd.Flags().StringVar(&o.As, "as", "", "artifact folder `DIR` to put the files under (default: top level)")
	cmd.Flags().BoolVar(&o.AsJSON, "json", false, "print the recorded artifacts as JSON")
	return cmd
}

func runArtifactAdd(ctx context.Context, a *app, o *artifactAddOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	id, err := a.runID(r, o.Run)
	if err != nil {
		return err
	}
	arts, st, err := a.addArtifacts(ctx, r, id, o.Paths, o.As, o.OpenCache)
	if err != nil {
		return err
	}
	if o.AsJSON {
		return printJSON(a.Out, arts)
	}
	var total int64
	for _, x := range arts {
		total += x.Size
	}
	fmt.Fprintf(a.Err, "Added %d %s (%s; %s new in the blob cache) to run %s\n",
		len(arts), plural(len(arts), "file", "files"), units.Bytes(total), units.Bytes(st.stored), id)
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// artifactFile is one file to add: where its bytes are, and what it is
// recorded as.
type artifactFile struct {
	src  string // file on disk (may be a symbolic link to it)
	path string // artifact path
	mode string // "0644" or "0755"
	size int64
}

// artifactAddStats tell what an add stored.
type artifactAddStats struct {
	stored int64 // bytes new in the store
}

// addArtifacts stores the files that paths name (see collectArtifactFiles)
// in the local cache (or the store openCache opens) and then records them
// all on run id with one LogBatch. Nothing is recorded unless every file
// was stored.
func (a *app) addArtifacts(ctx context.Context, r *repo.Repo, id string, paths []string, as string,
	openCache func(*repo.Repo) (blob.Store, error)) ([]manifest.Artifact, artifactAddStats, error) {
	var st artifactAddStats
	run, err := r.GetRun(id)
	if err != nil {
		return nil, st, err
	}
	if run.LifecycleStage != manifest.LifecycleActive {
		return nil, st, usagef("run %s is deleted; restore it with mlgit run restore %s before adding artifacts", id, id)
	}
	files, err := collectArtifactFiles(paths, as)
	if err != nil {
		return nil, st, err
	}
	if err := checkArtifactConflicts(run.Artifacts, files); err != nil {
		return nil, st, err
	}
	cache, err := openCacheOr(openCache, r)
	if err != nil {
		return nil, st, err
	}
	// Adds hold the cache lock shared; blob gc of the cache takes it exclusive.
	lock, err := r.LockBlobCache(false, time.Minute)
	if err != nil {
		return nil, st, err
	}
	defer lock.Unlock()
	var total int64
	for _, f := range files {
		total += f.size
	}
	bar := a.startProgress("add", total)
	arts, stored, err := storeArtifactFiles(ctx, cache, files, bar)
	bar.Finish()
	if err != nil {
		return nil, st, explainAddError(err, cache)
	}
	st.stored = stored
	if _, err := r.LogBatch(id, repo.Batch{Artifacts: arts}); err != nil {
		return nil, st, fmt.Errorf("record artifacts of run %s: %w (the files are in the blob cache, but the run records none of them)", id, err)
	}
	return manifest.SortArtifacts(arts), st, nil
}

// explainAddError turns store failures into advice. Every case leaves the
// run unchanged, and the message says so.
func explainAddError(err error, cache blob.Store) error {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("%w\nThe disk holding the blob cache (%s) is full. Free some space (mlgit blob gc removes blobs nothing references) and run the command again; the run records nothing of this add", err, cache.Location())
	case errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("%w\nThe disk quota for the blob cache (%s) is exhausted; the run records nothing of this add", err, cache.Location())
	case errors.Is(err, blob.ErrFileChanged):
		return fmt.Errorf("%w\nA file changed while it was being stored, so its digest would not match what is on disk. Add it again once it is complete; the run records nothing of this add", err)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("interrupted; the run records nothing of this add: %w", err)
	}
	return fmt.Errorf("%w (the run records nothing of this add)", err)
}

// Files at least this large are added one at a time with parallel chunk
// workers; smaller ones several at once.
const (
	bigArtifactFile    = 16 << 20
	bigFileParallel    = 8
	smallFileWorkers   = 8
	artifactGetWorkers = 4
)

// storeArtifactFiles adds every file to st and returns their manifest
// entries and the bytes newly stored. It stops at the first error.
func storeArtifactFiles(ctx context.Context, st blob.Store, files []artifactFile, bar *progressBar) ([]manifest.Artifact, int64, error) {
	arts := make([]manifest.Artifact, len(files))
	var stored atomic.Int64
	addOne := func(ctx context.Context, i int, par int) error {
		f := files[i]
		var last int64
		res, err := blob.AddFileWith(ctx, st, f.src, blob.AddOptions{Parallel: par, Progress: func(done int64) {
			bar.Add(done - last)
			last = done
		}})
		if err != nil {
			return err
		}
		if res.Size != f.size {
			return fmt.Errorf("add %s: %w: it had %d bytes when listed and %d when stored", f.src, blob.ErrFileChanged, f.size, res.Size)
		}
		stored.Add(res.StoredBytes)
		arts[i] = manifest.Artifact{Path: f.path, Digest: res.Digest.String(), Size: res.Size, Mode: f.mode}
		return nil
	}
	var small []int
	for i, f := range files {
		if f.size < bigArtifactFile {
			small = append(small, i)
			continue
		}
		if err := addOne(ctx, i, bigFileParallel); err != nil {
			return nil, 0, err
		}
	}
	err := parallelDo(ctx, len(small), smallFileWorkers, func(ctx context.Context, k int) error {
		return addOne(ctx, small[k], 1)
	})
	if err != nil {
		return nil, 0, err
	}
	return arts, stored.Load(), nil
}

// parallelDo calls fn(ctx, i) for i in [0, n) on up to par goroutines and
// returns the first error, cancelling the calls still running.
func parallelDo(ctx context.Context, n, par int, fn func(context.Context, int) error) error {
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		once     sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	for range min(par, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// collectArtifactFiles expands command-line paths into the files to add,
// checking all of them before anything is stored. A file becomes
// as/<name>; a folder as/<name>/...; "folder/." (or ".") the folder's
// contents directly under as. Inside folders, symbolic links to files in
// the same folder are followed; others are errors, as are special files,
// empty folders, unreadable files, invalid artifact paths and two sources
// for one artifact path. Errors are usage errors: nothing was written.
func collectArtifactFiles(paths []string, as string) ([]artifactFile, error) {
	as = strings.TrimRight(as, "/")
	if as == "." {
		as = ""
	}
	if as != "" {
		if err := manifest.ValidateArtifactPath(as); err != nil {
			return nil, usagef("--as %q: %v", as, err)
		}
	}
	join := func(rel string) string {
		if as == "" {
			return rel
		}
		if rel == "" {
			return as
		}
		return as + "/" + rel
	}
	var files []artifactFile
	var problems []string
	for _, arg := range paths {
		got, err := expandArtifactArg(arg, join)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		files = append(files, got...)
	}
	if len(problems) > 0 {
		return nil, usagef("%s\nNothing was added.", joinProblems(problems))
	}
	// One source per artifact path.
	sort.SliceStable(files, func(i, j int) bool { return files[i].path < files[j].path })
	out := files[:0]
	for i, f := range files {
		if i > 0 && files[i-1].path == f.path {
			if sameFile(files[i-1].src, f.src) {
				continue
			}
			problems = append(problems, fmt.Sprintf("artifact %q would come from both %s and %s", f.path, files[i-1].src, f.src))
			continue
		}
		out = append(out, f)
	}
	if len(problems) > 0 {
		return nil, usagef("%s\nNothing was added.", joinProblems(problems))
	}
	return out, nil
}

func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// joinProblems lists up to ten problems, one per line.
func joinProblems(ps []string) string {
	if len(ps) > 10 {
		ps = append(ps[:10:10], fmt.Sprintf("... and %d more", len(ps)-10))
	}
	return strings.Join(ps, "\n")
}

// expandArtifactArg lists the files one command-line path stands for.
func expandArtifactArg(arg string, join func(string) string) ([]artifactFile, error) {
	if arg == "" {
		return nil, errors.New("empty path")
	}
	contentsOnly := arg == "." || strings.HasSuffix(arg, "/.")
	clean := filepath.Clean(arg)
	fi, err := os.Stat(clean) // follows a link named on the command line
	if err != nil {
		return nil, describeFSError(arg, err)
	}
	name := filepath.Base(clean)
	if name == "." || name == ".." || name == string(filepath.Separator) {
		contentsOnly = true
	}
	switch {
	case fi.Mode().IsRegular():
		if contentsOnly {
			return nil, fmt.Errorf("%s: is a file, not a folder", arg)
		}
		f, err := newArtifactFile(clean, join(name), fi)
		if err != nil {
			return nil, err
		}
		return []artifactFile{f}, nil
	case fi.IsDir():
		prefix := name
		if contentsOnly {
			prefix = ""
		}
		return walkArtifactDir(arg, clean, func(rel string) string {
			if prefix == "" {
				return join(rel)
			}
			return join(prefix + "/" + rel)
		})
	}
	return nil, fmt.Errorf("%s: not a regular file or folder (%s)", arg, fi.Mode().Type())
}

// walkArtifactDir lists the files below dir, following symbolic links only
// to files inside dir, and skipping folders named .git. dir itself may be a
// link; messages name files as found below dir.
func walkArtifactDir(arg, dir string, name func(rel string) string) ([]artifactFile, error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, describeFSError(arg, err)
	}
	root, err = filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	var out []artifactFile
	var problems []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		rel, rerr := filepath.Rel(root, p)
		if rerr != nil {
			return rerr
		}
		shown := filepath.Join(dir, rel)
		if err != nil {
			problems = append(problems, describeFSError(shown, err).Error())
			if d != nil && d.IsDir() && p != root {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if d.Name() == ".git" && p != root {
				return fs.SkipDir
			}
			return nil
		}
		rel = filepath.ToSlash(rel)
		var fi fs.FileInfo
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := filepath.EvalSymlinks(p)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: symbolic link to nothing (%v)", shown, unwrapPathError(err)))
				return nil
			}
			target, _ = filepath.Abs(target)
			if !strings.HasPrefix(target, root+string(filepath.Separator)) {
				problems = append(problems, fmt.Sprintf("%s: symbolic link points outside %s (to %s); mlgit follows links only to files inside the folder it adds", shown, arg, target))
				return nil
			}
			fi, err = os.Stat(p)
			if err != nil {
				problems = append(problems, describeFSError(shown, err).Error())
				return nil
			}
			if fi.IsDir() {
				problems = append(problems, fmt.Sprintf("%s: symbolic link to a folder (%s) is not supported; add that folder itself", shown, target))
				return nil
			}
		case d.Type().IsRegular():
			fi, err = d.Info()
			if err != nil {
				problems = append(problems, describeFSError(shown, err).Error())
				return nil
			}
		default:
			problems = append(problems, fmt.Sprintf("%s: not a regular file (%s)", shown, d.Type()))
			return nil
		}
		if !fi.Mode().IsRegular() {
			problems = append(problems, fmt.Sprintf("%s: not a regular file (%s)", shown, fi.Mode().Type()))
			return nil
		}
		f, err := newArtifactFile(p, name(rel), fi)
		if err != nil {
			problems = append(problems, strings.Replace(err.Error(), p, shown, 1))
			return nil
		}
		out = append(out, f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return nil, errors.New(joinProblems(problems))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: folder has no files", arg)
	}
	return out, nil
}

// newArtifactFile checks that src can be read and that p is a valid
// artifact path.
func newArtifactFile(src, p string, fi fs.FileInfo) (artifactFile, error) {
	if err := manifest.ValidateArtifactPath(p); err != nil {
		return artifactFile{}, fmt.Errorf("%s: %v", src, err)
	}
	f, err := os.Open(src)
	if err != nil {
		return artifactFile{}, describeFSError(src, err)
	}
	f.Close()
	mode := "0644"
	if fi.Mode().Perm()&0o111 != 0 {
		mode = "0755"
	}
	return artifactFile{src: src, path: p, mode: mode, size: fi.Size()}, nil
}

// describeFSError says what is wrong with a path in plain words.
func describeFSError(p string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: no such file or folder", p)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s: permission denied (cannot read it)", p)
	}
	return fmt.Errorf("%s: %v", p, unwrapPathError(err))
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// checkArtifactConflicts refuses a new artifact path that is a folder of
// an existing or new file artifact, or a file where there is a folder:
// artifact get could not write both. Replacing a path is fine.
func checkArtifactConflicts(existing []manifest.Artifact, files []artifactFile) error {
	all := map[string]bool{}
	for _, x := range existing {
		all[x.Path] = true
	}
	for _, f := range files {
		all[f.path] = true
	}
	paths := make([]string, 0, len(all))
	for p := range all {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var problems []string
	for _, f := range files {
		for dir := path.Dir(f.path); dir != "."; dir = path.Dir(dir) {
			if all[dir] {
				problems = append(problems, fmt.Sprintf("artifact %q would be below %q, which is a file", f.path, dir))
			}
		}
		i := sort.SearchStrings(paths, f.path+"/")
		if i < len(paths) && strings.HasPrefix(paths[i], f.path+"/") {
			problems = append(problems, fmt.Sprintf("artifact %q would be a file where %q is a folder", f.path, f.path+"/"))
		}
	}
	if len(problems) > 0 {
		return usagef("%s\nNothing was added.", joinProblems(problems))
	}
	return nil
}

// ---- ls

type artifactLsOptions struct {
	Run    string
	Path   string
	AsJSON bool
}

func newRunArtifactLsCmd(a *app, runF func(context.Context, *artifactLsOptions) error) *cobra.Command {
	o := &artifactLsOptions{}
	cmd := &cobra.Command{
		Use:   "ls <run> [path] [--json]",
		Short: "List a run's artifacts",
		Long: `List the artifacts of a run (id or unique prefix), or those at or below path:
mode, size, digest and path, sorted by path. Exit status 3 when path matches
nothing.`,
		Example: `  mlgit run artifact ls 3f2a9c1e
  mlgit run artifact ls 3f2a9c1e model --json`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Run = args[0]
			if len(args) > 1 {
				o.Path = args[1]
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runArtifactLs(a, o)
		},
	}
	cmd.Flags().BoolVar(&o.AsJSON, "json", false, "print JSON")
	return cmd
}

func runArtifactLs(a *app, o *artifactLsOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	_, arts, err := a.selectRunArtifacts(r, o.Run, o.Path)
	if err != nil {
		return err
	}
	if o.AsJSON {
		if arts == nil {
			arts = []manifest.Artifact{}
		}
		return printJSON(a.Out, arts)
	}
	tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODE\tSIZE\tDIGEST\tPATH")
	for _, x := range arts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", x.Mode, units.Bytes(x.Size), strings.TrimPrefix(x.Digest, "sha256:")[:12], x.Path)
	}
	return tw.Flush()
}

// selectRunArtifacts returns the run's artifacts at or below p ("" for
// all). A p that matches nothing is ErrNotFound (exit 3), naming what the
// run has.
func (a *app) selectRunArtifacts(r *repo.Repo, run, p string) (string, []manifest.Artifact, error) {
	id, err := a.resolveRun(r, run)
	if err != nil {
		return "", nil, err
	}
	doc, err := r.GetRun(id)
	if err != nil {
		return "", nil, err
	}
	p = strings.Trim(p, "/")
	if p == "." {
		p = ""
	}
	if p == "" {
		return id, doc.Artifacts, nil
	}
	if err := manifest.ValidateArtifactPath(p); err != nil {
		return "", nil, err
	}
	var out []manifest.Artifact
	for _, x := range doc.Artifacts {
		if x.Path == p || strings.HasPrefix(x.Path, p+"/") {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		return "", nil, fmt.Errorf("%w: run %s has no artifact at %q (%s)", repo.ErrNotFound, id, p, topLevelArtifacts(doc.Artifacts))
	}
	return id, out, nil
}

// topLevelArtifacts describes what a run has: "it has model/, plot.png".
func topLevelArtifacts(arts []manifest.Artifact) string {
	names := manifest.TopLevelPaths(arts)
	if len(names) == 0 {
		return "it has no artifacts"
	}
	if len(names) > 8 {
		names = append(names[:8:8], "...")
	}
	return "it has " + strings.Join(names, ", ")
}

// ---- get

type artifactGetOptions struct {
	Run    string
	Path   string
	Out    string
	Remote string
	// OpenCache and OpenRemote open the local cache and the blob remote
	// (defaults: the repository's cache, blob.OpenStore).
	OpenCache  func(*repo.Repo) (blob.Store, error)
	OpenRemote func(context.Context, string) (blob.Store, error)
}

func newRunArtifactGetCmd(a *app, runF func(context.Context, *artifactGetOptions) error) *cobra.Command {
	o := &artifactGetOptions{}
	cmd := &cobra.Command{
		Use:   "get <run> [path] -o <dir> [--remote URL]",
		Short: "Write a run's artifacts to a folder, verified",
		Long: `Write the artifacts of a run (id or unique prefix), or those at or below path,
into dir, keeping their artifact paths (get RUN model -o out writes out/model/...)
and restoring their modes (0644 or 0755).

Every byte is checked against its sha256 digest while it is read; damaged data
fails the command with an error naming the digest, and is never written. Each
file is written to a temporary name in its folder and renamed into place, so a
file either has its complete, verified content or is not changed; an existing
file is replaced. Nothing is written outside dir, and never through a symbolic
link inside it.

Blobs missing from the local cache are fetched from the blob remote (--remote,
else $MLGIT_BLOB_REMOTE, else blobs.remote in mlgit.yaml) into the cache first.`,
		Example: `  mlgit run artifact get 3f2a9c1e -o ./restored
  mlgit run artifact get 3f2a9c1e model/weights.bin -o /tmp/w`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Run = args[0]
			if len(args) > 1 {
				o.Path = args[1]
			}
			if o.Out == "" {
				return usagef("give the folder to write to with -o DIR")
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runArtifactGet(cmd.Context(), a, o)
		},
	}
	cmd.Flags().StringVarP(&o.Out, "output", "o", "", "folder `DIR` to write the files into (created if needed)")
	cmd.Flags().StringVar(&o.Remote, "remote", "", "blob remote `URL` to fetch blobs the local cache lacks")
	return cmd
}

func runArtifactGet(ctx context.Context, a *app, o *artifactGetOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	id, arts, err := a.selectRunArtifacts(r, o.Run, o.Path)
	if err != nil {
		return err
	}
	cache, err := openCacheOr(o.OpenCache, r)
	if err != nil {
		return err
	}
	digests := make([]blob.Digest, len(arts))
	for i, x := range arts {
		if digests[i], err = blob.ParseDigest(x.Digest); err != nil {
			return fmt.Errorf("artifact %s of run %s: %w", x.Path, id, err)
		}
	}
	if err := a.fetchMissingBlobs(ctx, r, cache, digests, arts, o.Remote, o.OpenRemote); err != nil {
		return err
	}
	var total int64
	for _, x := range arts {
		total += x.Size
	}
	bar := a.startProgress("get", total)
	err = writeArtifacts(ctx, cache, o.Out, arts, digests, bar)
	bar.Finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(a.Err, "Wrote %d %s (%s) of run %s to %s\n", len(arts), plural(len(arts), "file", "files"), units.Bytes(total), id, o.Out)
	return nil
}

// fetchMissingBlobs copies the digests the cache lacks from the blob
// remote into the cache. Without a remote, it names what is missing.
func (a *app) fetchMissingBlobs(ctx context.Context, r *repo.Repo, cache blob.Store, digests []blob.Digest,
	arts []manifest.Artifact, remoteFlag string, openRemote func(context.Context, string) (blob.Store, error)) error {
	have, err := blob.Has(ctx, cache, digests)
	if err != nil {
		return fmt.Errorf("blob cache %s: %w", cache.Location(), err)
	}
	var missing []blob.Digest
	var names []string
	for i, d := range digests {
		if !have[d] {
			missing = append(missing, d)
			names = append(names, fmt.Sprintf("%s (%s)", arts[i].Path, d))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	lock, err := r.LockBlobCache(false, time.Minute)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	url, _, err := a.blobRemoteURL(r, remoteFlag)
	if err != nil {
		return fmt.Errorf("%d %s not in the local blob cache:\n%s\nand no blob remote to fetch from: pass --remote URL, set MLGIT_BLOB_REMOTE, or set blobs.remote in mlgit.yaml",
			len(missing), plural(len(missing), "artifact is", "artifacts are"), joinProblems(names))
	}
	remote, err := a.openBlobStore(ctx, url, openRemote)
	if err != nil {
		return err
	}
	bar := a.startProgress("fetch", 0)
	_, err = blob.Copy(ctx, remote, cache, missing, blob.CopyOptions{Progress: func(done, total int64) {
		bar.SetTotal(total)
		bar.Set(done)
	}})
	bar.Finish()
	if err != nil {
		return fmt.Errorf("fetch %d %s from %s: %w", len(missing), plural(len(missing), "blob", "blobs"), remote.Location(), err)
	}
	return nil
}

// writeArtifacts writes arts below dir, a few files at a time, each
// verified (blob.Open) and atomically renamed into place.
func writeArtifacts(ctx context.Context, st blob.Store, dir string, arts []manifest.Artifact, digests []blob.Digest, bar *progressBar) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	// Destinations first, so a bad path writes nothing at all.
	dests := make([]string, len(arts))
	for i, x := range arts {
		if dests[i], err = artifactDest(root, x.Path); err != nil {
			return err
		}
	}
	return parallelDo(ctx, len(arts), artifactGetWorkers, func(ctx context.Context, i int) error {
		if err := writeArtifact(ctx, st, root, dests[i], arts[i], digests[i], bar); err != nil {
			return fmt.Errorf("artifact %s (%s): %w", arts[i].Path, arts[i].Digest, err)
		}
		return nil
	})
}

// artifactDest returns where artifact path p goes below root, refusing
// anything that would land outside it.
func artifactDest(root, p string) (string, error) {
	if err := manifest.ValidateArtifactPath(p); err != nil {
		return "", fmt.Errorf("refusing to write artifact %q: %w", p, err)
	}
	dest := filepath.Join(root, filepath.FromSlash(p))
	rel, err := filepath.Rel(root, dest)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("%w: refusing to write artifact %q outside %s", repo.ErrInvalid, p, root)
	}
	return dest, nil
}

// mkdirsUnder creates the folders between root and dir, refusing to pass
// through a symbolic link or a file.
func mkdirsUnder(root, dir string) error {
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		return err
	}
	cur := root
	if rel == "." {
		return nil
	}
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		switch {
		case err == nil && fi.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("refusing to write through the symbolic link %s", cur)
		case err == nil && !fi.IsDir():
			return fmt.Errorf("%s exists and is not a folder", cur)
		case err == nil:
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Mkdir(cur, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		default:
			return err
		}
	}
	return nil
}

const getBufferSize = 4 << 20

var getBuffers = sync.Pool{New: func() any { b := make([]byte, getBufferSize); return &b }}

// writeArtifact writes one artifact to dest through a temporary file.
func writeArtifact(ctx context.Context, st blob.Store, root, dest string, x manifest.Artifact, d blob.Digest, bar *progressBar) (err error) {
	dir := filepath.Dir(dest)
	if err := mkdirsUnder(root, dir); err != nil {
		return err
	}
	if fi, err := os.Lstat(dest); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a folder", dest)
	}
	// The whole-file hash is checked at the end and the file is renamed
	// into place only then, so the per-chunk hashes can be skipped.
	rc, size, err := blob.OpenWith(ctx, st, d, blob.OpenOptions{WholeFileCheck: true})
	if err != nil {
		return err
	}
	defer rc.Close()
	if size != x.Size {
		return fmt.Errorf("%w: the run records %d bytes, the blob has %d", blob.ErrCorrupt, x.Size, size)
	}
	tmp, err := os.CreateTemp(dir, ".mlgit-get-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := copyPipelined(tmp, progressReader{rc, bar})
	if err != nil {
		return err
	}
	if n != x.Size {
		return fmt.Errorf("%w: read %d bytes, want %d", blob.ErrCorrupt, n, x.Size)
	}
	mode := os.FileMode(0o644)
	if x.Mode == "0755" {
		mode = 0o755
	}
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dest)
}

// copyPipelined copies r to w in 4 MiB blocks, reading the next block
// while the last one is written, so that hashing (in r) and writing to the
// page cache (in w) use two cores. It stops at the first error of either.
func copyPipelined(w io.Writer, r io.Reader) (int64, error) {
	const nbuf = 3
	type block struct {
		b *[]byte
		n int
	}
	free := make(chan *[]byte, nbuf)
	full := make(chan block, nbuf)
	stop := make(chan struct{})
	for range nbuf {
		free <- getBuffers.Get().(*[]byte)
	}
	var rerr error
	go func() {
		defer close(full)
		for {
			var b *[]byte
			select {
			case b = <-free:
			case <-stop:
				return
			}
			n, err := io.ReadFull(r, *b)
			if n > 0 {
				full <- block{b, n}
			} else {
				free <- b
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return
			}
			if err != nil {
				rerr = err
				return
			}
		}
	}()
	var written int64
	var werr error
	for blk := range full {
		if werr == nil {
			m, err := w.Write((*blk.b)[:blk.n])
			written += int64(m)
			if err != nil {
				werr = err
				close(stop)
			}
		}
		free <- blk.b
	}
	for range nbuf {
		getBuffers.Put(<-free)
	}
	if rerr != nil {
		return written, rerr
	}
	return written, werr
}

// progressReader counts what passes through it on a progress bar.
type progressReader struct {
	r   io.Reader
	bar *progressBar
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.bar.Add(int64(n))
	return n, err
}
