package synccmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/internal/par"
	"github.com/mlgit/mlgit/internal/units"
	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
)

// gcGrace is how old an unreferenced object must be before blob gc removes
// it, so that adds and pushes running concurrently are safe.
const gcGrace = time.Hour

// NewBlobCmd returns mlgit blob and its subcommands.
func NewBlobCmd(a *cli.App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "blob <command>",
		Short: "Move, check and clean up artifact blobs (local cache and remote store)",
		Long: `Artifacts live in a content-addressed blob store beside Git: a local cache in
.git/mlgit/blobs and a shared remote (a folder, file:// URL, s3://bucket/prefix, gs://bucket/prefix or az://container/prefix).
Manifests on the tracking branch name blobs by their sha256 digest.

The remote is --remote URL, else $MLGIT_BLOB_REMOTE, else blobs.remote in
mlgit.yaml on the tracking branch. S3 endpoint, region and credentials come
from the usual AWS environment variables and files (see docs/blobs.md).

Which blobs: by default those referenced by the tip of the tracking branch and
by acknowledged writes not yet committed. REF arguments narrow this to a run
(id or unique prefix), a model version (name@v3, name@production), a commit
or ref (every manifest at that commit), or a range A..B (manifests the commits
in B and not in A changed). --all takes the whole history of the branch.`,
		Example: `  mlgit blob push --remote s3://ml-artifacts/churn
  mlgit blob pull 3f2a9c1e
  mlgit blob verify
  mlgit blob gc --dry-run`,
	}
	cmd.AddCommand(newBlobTransferCmd(a, true, nil), newBlobTransferCmd(a, false, nil), newBlobVerifyCmd(a, nil), newBlobGCCmd(a, nil))
	return cmd
}

// blobScope returns the references a blob command acts on, and a phrase
// describing them for reports.
func blobScope(r *repo.Repo, specs []string, all bool) ([]repo.ArtifactRef, string, []string, error) {
	switch {
	case all && len(specs) > 0:
		return nil, "", nil, cli.Usagef("give REF arguments or --all, not both")
	case all:
		refs, warnings, err := r.HistoryArtifactRefs()
		return refs, "the history of branch " + r.Branch(), warnings, err
	case len(specs) > 0:
		refs, err := r.ArtifactRefsFor(specs...)
		return refs, strings.Join(specs, " "), nil, err
	}
	refs, err := r.TipArtifactRefs()
	return refs, "the tip of branch " + r.Branch(), nil, err
}

// blobDigests parses the digests of refs and groups the references by
// digest, in digest order.
func blobDigests(refs []repo.ArtifactRef) ([]blob.Digest, map[blob.Digest][]repo.ArtifactRef, error) {
	by := map[blob.Digest][]repo.ArtifactRef{}
	var ds []blob.Digest
	for _, x := range refs {
		d, err := blob.ParseDigest(x.Digest)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", x, err)
		}
		if _, ok := by[d]; !ok {
			ds = append(ds, d)
		}
		by[d] = append(by[d], x)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].Hex() < ds[j].Hex() })
	return ds, by, nil
}

// describeRefs names the first few references of a digest.
func describeRefs(refs []repo.ArtifactRef) string {
	var parts []string
	for i, x := range refs {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(refs)-3))
			break
		}
		parts = append(parts, x.String())
	}
	return strings.Join(parts, ", ")
}

// ---- push / pull

// BlobTransferOptions are the options of mlgit blob push and pull.
type BlobTransferOptions struct {
	Push   bool
	Remote string
	Refs   []string
	All    bool
	Jobs   int
	AsJSON bool
	// OpenCache and OpenRemote open the stores (defaults: the local cache,
	// blob.OpenStore).
	OpenCache  func(*repo.Repo) (blob.Store, error)
	OpenRemote func(context.Context, string) (blob.Store, error)
}

// blobTransferResult is what push and pull print with --json.
type blobTransferResult struct {
	Direction     string `json:"direction"`
	Remote        string `json:"remote"`
	Blobs         int    `json:"blobs"`
	FilesCopied   int    `json:"files_copied"`
	FilesSkipped  int    `json:"files_skipped"`
	ChunksCopied  int    `json:"chunks_copied"`
	ChunksSkipped int    `json:"chunks_skipped"`
	Bytes         int64  `json:"bytes"`
	StoredBytes   int64  `json:"stored_bytes"`
}

func newBlobTransferCmd(a *cli.App, push bool, runF func(context.Context, *BlobTransferOptions) error) *cobra.Command {
	o := &BlobTransferOptions{Push: push}
	use, short, long, example := "push", "Upload blobs from the local cache to the blob remote",
		`Upload the blobs that the given refs reference (default: the tip of the
tracking branch and pending writes) from the local cache to the blob remote.
Blobs the remote already has are skipped after a few batched existence
checks, not one request per blob. Chunks are uploaded in parallel, each
verified against its digest as it is read, and a blob's file object is written
only after all its chunks, so an interrupted push leaves no partial blob
visible; running it again completes it.`,
		`  mlgit blob push
  mlgit blob push --remote s3://ml-artifacts/churn 3f2a9c1e
  mlgit blob push origin/mlgit..mlgit`
	if !push {
		use, short, long, example = "pull", "Download blobs from the blob remote into the local cache",
			`Download the blobs that the given refs reference (default: the tip of the
tracking branch and pending writes) from the blob remote into the local cache,
skipping those the cache has. Every chunk is verified against its digest;
interrupted pulls leave no partial blob and resume when run again.`,
			`  mlgit blob pull
  mlgit blob pull churn@production
  mlgit blob pull --all`
	}
	cmd := &cobra.Command{
		Use:     use + " [--remote URL] [--all] [REF...]",
		Short:   short,
		Long:    long,
		Example: example,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Refs = args
			if o.Jobs < 1 || o.Jobs > 256 {
				return cli.Usagef("--jobs %d: want 1 to 256", o.Jobs)
			}
			if o.All && len(args) > 0 {
				return cli.Usagef("give REF arguments or --all, not both")
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return RunBlobTransfer(cmd.Context(), a, o)
		},
	}
	cmd.Flags().StringVar(&o.Remote, "remote", "", "blob remote `URL` (default $MLGIT_BLOB_REMOTE, else blobs.remote in mlgit.yaml)")
	cmd.Flags().BoolVar(&o.All, "all", false, "every blob the branch's history references")
	cmd.Flags().IntVarP(&o.Jobs, "jobs", "j", 8, "parallel transfers `N`")
	cmd.Flags().BoolVar(&o.AsJSON, "json", false, "print what was transferred as JSON")
	return cmd
}

// RunBlobTransfer runs mlgit blob push or pull.
func RunBlobTransfer(ctx context.Context, a *cli.App, o *BlobTransferOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	url, _, err := a.BlobRemoteURL(r, o.Remote)
	if err != nil {
		return err
	}
	refs, _, warnings, err := blobScope(r, o.Refs, o.All)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintf(a.Err, "mlgit: warning: %s\n", w)
	}
	ds, by, err := blobDigests(refs)
	if err != nil {
		return err
	}
	cache, err := cli.OpenCacheOr(o.OpenCache, r)
	if err != nil {
		return err
	}
	remote, err := a.OpenBlobStore(ctx, url, o.OpenRemote)
	if err != nil {
		return err
	}
	src, dst, verb, label := cache, remote, "Pushed", "push"
	if o.Push {
		// Shared: pushes run side by side; a gc of the store waits.
		lock, err := blob.Lock(ctx, remote, false, "push")
		if err != nil {
			return err
		}
		defer lock.Unlock()
	}
	if !o.Push {
		src, dst, verb, label = remote, cache, "Pulled", "pull"
		lock, err := r.LockBlobCache(false, time.Minute)
		if err != nil {
			return err
		}
		defer lock.Unlock()
	}
	bar := a.StartProgress(label, 0)
	stats, err := blob.Copy(ctx, src, dst, ds, blob.CopyOptions{Parallel: o.Jobs, Progress: func(done, total int64) {
		bar.SetTotal(total)
		bar.Set(done)
	}})
	bar.Finish()
	if err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			if lost := blobsInNeither(ctx, src, dst, ds, by); lost != nil {
				return lost
			}
		}
		return fmt.Errorf("%s: %w", label, err)
	}
	res := blobTransferResult{Direction: label, Remote: remote.Location(), Blobs: len(ds),
		FilesCopied: stats.Files, FilesSkipped: stats.FilesSkipped, ChunksCopied: stats.Chunks,
		ChunksSkipped: stats.ChunksSkipped, Bytes: stats.Bytes, StoredBytes: stats.StoredBytes}
	if o.AsJSON {
		return cli.PrintJSON(a.Out, res)
	}
	where, dstName := "to", remote.Location()
	if !o.Push {
		where, dstName = "from", "the local cache"
	}
	switch {
	case len(ds) == 0:
		fmt.Fprintf(a.Err, "No blobs referenced; nothing to %s.\n", label)
	case stats.Files == 0:
		fmt.Fprintf(a.Err, "All %d %s already in %s.\n", len(ds), cli.Plural(len(ds), "blob is", "blobs are"), dstName)
	default:
		fmt.Fprintf(a.Err, "%s %d %s (%d %s, %s) %s %s", verb, stats.Files, cli.Plural(stats.Files, "blob", "blobs"),
			stats.Chunks, cli.Plural(stats.Chunks, "chunk", "chunks"), units.Bytes(stats.Bytes), where, remote.Location())
		if stats.FilesSkipped > 0 {
			fmt.Fprintf(a.Err, "; %d %s already in %s", stats.FilesSkipped, cli.Plural(stats.FilesSkipped, "was", "were"), dstName)
		}
		fmt.Fprintln(a.Err, ".")
	}
	return nil
}

// blobsInNeither explains a copy that failed because blobs are missing
// from the source: it lists the ones neither store has, or returns nil if
// there are none (the error was something else).
func blobsInNeither(ctx context.Context, src, dst blob.Store, ds []blob.Digest, by map[blob.Digest][]repo.ArtifactRef) error {
	inSrc, err := blob.Has(ctx, src, ds)
	if err != nil {
		return nil
	}
	inDst, err := blob.Has(ctx, dst, ds)
	if err != nil {
		return nil
	}
	var lines []string
	for _, d := range ds {
		if !inSrc[d] && !inDst[d] {
			lines = append(lines, fmt.Sprintf("  %s  %s", d, describeRefs(by[d])))
		}
	}
	if len(lines) == 0 {
		return nil
	}
	return fmt.Errorf("%d referenced %s in neither %s nor %s:\n%s\nThey were added on another machine and not pushed from there, or removed by gc; nothing was transferred",
		len(lines), cli.Plural(len(lines), "blob is", "blobs are"), src.Location(), dst.Location(), cli.JoinProblems(lines))
}

// ---- verify

// BlobVerifyOptions are the options of mlgit blob verify.
type BlobVerifyOptions struct {
	Remote string
	Local  bool
	Repair bool
	Refs   []string
	All    bool
	Exists bool
	Jobs   int
	AsJSON bool
	// OpenCache and OpenRemote open the stores (defaults: the local cache,
	// blob.OpenStore).
	OpenCache  func(*repo.Repo) (blob.Store, error)
	OpenRemote func(context.Context, string) (blob.Store, error)
}

// blobProblem is one blob that failed verification.
type blobProblem struct {
	Digest string             `json:"digest"`
	Status string             `json:"status"` // missing, corrupt, size-mismatch, error
	Detail string             `json:"detail,omitempty"`
	Refs   []repo.ArtifactRef `json:"refs"`
}

// blobVerifyReport is what verify prints with --json.
type blobVerifyReport struct {
	Store    string        `json:"store"`
	Scope    string        `json:"scope"`
	Checked  int           `json:"checked"`
	OK       int           `json:"ok"`
	Bytes    int64         `json:"bytes"`
	Problems []blobProblem `json:"problems"`
	// Repaired (--repair) lists the problem blobs fetched again intact
	// from RepairedFrom; Problems then holds only those still damaged.
	Repaired     []blobProblem `json:"repaired,omitempty"`
	RepairedFrom string        `json:"repaired_from,omitempty"`
}

func newBlobVerifyCmd(a *cli.App, runF func(context.Context, *BlobVerifyOptions) error) *cobra.Command {
	o := &BlobVerifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify [--remote URL | --local] [--exists] [--all] [REF...] [--json]",
		Short: "Check that every referenced blob exists and hashes correctly",
		Long: `Check that every blob the given refs reference (default: the tip of the tracking
branch and pending writes) exists in the blob remote (or, with --local, the
local cache) and that every byte hashes to its digest. The report lists each
missing or damaged blob with the runs and model versions that reference it.
Exit status 1 when there is any problem.

--exists only checks that the blobs are there (a few batched requests), without
reading them.

--repair checks the local cache and fetches every missing or damaged blob
again from the blob remote (--remote URL, else the configured one): damaged
chunks and file objects are removed from the cache and copied again, verified;
intact ones are kept. Exit status 0 when everything was repaired.`,
		Example: `  mlgit blob verify
  mlgit blob verify --local 3f2a9c1e
  mlgit blob verify --repair
  mlgit blob verify --remote s3://ml-artifacts/churn --exists --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Refs = args
			if o.Repair {
				if o.Exists {
					return cli.Usagef("--repair reads every blob; it cannot be combined with --exists")
				}
				o.Local = true // the cache is checked; --remote is the source
			} else if o.Local && o.Remote != "" {
				return cli.Usagef("give --remote URL or --local, not both")
			}
			if o.All && len(args) > 0 {
				return cli.Usagef("give REF arguments or --all, not both")
			}
			if o.Jobs < 1 || o.Jobs > 256 {
				return cli.Usagef("--jobs %d: want 1 to 256", o.Jobs)
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return RunBlobVerify(cmd.Context(), a, o)
		},
	}
	cmd.Flags().StringVar(&o.Remote, "remote", "", "blob remote `URL` (default $MLGIT_BLOB_REMOTE, else blobs.remote in mlgit.yaml)")
	cmd.Flags().BoolVar(&o.Local, "local", false, "check the local cache instead of the remote")
	cmd.Flags().BoolVar(&o.Repair, "repair", false, "check the local cache and fetch missing or damaged blobs again from the blob remote")
	cmd.Flags().BoolVar(&o.All, "all", false, "every blob the branch's history references")
	cmd.Flags().BoolVar(&o.Exists, "exists", false, "only check that the blobs exist; do not read them")
	cmd.Flags().IntVarP(&o.Jobs, "jobs", "j", 4, "blobs checked in parallel `N`")
	cmd.Flags().BoolVar(&o.AsJSON, "json", false, "print the report as JSON")
	return cmd
}

// RunBlobVerify runs mlgit blob verify.
func RunBlobVerify(ctx context.Context, a *cli.App, o *BlobVerifyOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	var st blob.Store
	if o.Local {
		open := o.OpenCache
		if open == nil {
			open = cli.OpenLocalBlobCache
		}
		if st, err = open(r); err != nil {
			return err
		}
	} else {
		url, _, err := a.BlobRemoteURL(r, o.Remote)
		if err != nil {
			return cli.Usagef("%v, or check the local cache with --local", err)
		}
		if st, err = a.OpenBlobStore(ctx, url, o.OpenRemote); err != nil {
			return err
		}
	}
	refs, scope, warnings, err := blobScope(r, o.Refs, o.All)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintf(a.Err, "mlgit: warning: %s\n", w)
	}
	ds, by, err := blobDigests(refs)
	if err != nil {
		return err
	}
	rep := blobVerifyReport{Store: st.Location(), Scope: scope, Checked: len(ds), Problems: []blobProblem{}}
	var total int64
	for _, d := range ds {
		total += by[d][0].Size
	}
	rep.Bytes = total
	if o.Exists {
		have, err := blob.Has(ctx, st, ds)
		if err != nil {
			return fmt.Errorf("verify %s: %w", st.Location(), err)
		}
		for _, d := range ds {
			if !have[d] {
				rep.Problems = append(rep.Problems, blobProblem{Digest: d.String(), Status: "missing", Refs: by[d]})
			}
		}
	} else {
		bar := a.StartProgress("verify", total)
		problems := make([]*blobProblem, len(ds))
		err := par.Do(ctx, len(ds), o.Jobs, func(ctx context.Context, i int) error {
			p, err := verifyOneBlob(ctx, st, ds[i], by[ds[i]], bar)
			problems[i] = p
			return err
		})
		bar.Finish()
		if err != nil {
			return fmt.Errorf("verify %s: %w", st.Location(), err)
		}
		for _, p := range problems {
			if p != nil {
				rep.Problems = append(rep.Problems, *p)
			}
		}
	}
	if o.Repair && len(rep.Problems) > 0 {
		if err := repairCache(ctx, a, r, st, o, &rep); err != nil {
			return err
		}
	}
	rep.OK = rep.Checked - len(rep.Problems)
	if o.AsJSON {
		if err := cli.PrintJSON(a.Out, rep); err != nil {
			return err
		}
	} else {
		printVerifyReport(a.Out, rep, o.Exists)
	}
	if len(rep.Problems) > 0 {
		fmt.Fprintf(a.Err, "mlgit: blob verify found %d %s in %s\n", len(rep.Problems), cli.Plural(len(rep.Problems), "problem", "problems"), rep.Store)
		return &cli.ExitError{Code: cli.ExitFailure}
	}
	return nil
}

// repairCache fetches the blobs of rep.Problems again from the blob
// remote into the cache st and moves those now intact to rep.Repaired.
func repairCache(ctx context.Context, a *cli.App, r *repo.Repo, st blob.Store, o *BlobVerifyOptions, rep *blobVerifyReport) error {
	url, _, err := a.BlobRemoteURL(r, o.Remote)
	if err != nil {
		return cli.Usagef("--repair fetches from the blob remote: %v", err)
	}
	src, err := a.OpenBlobStore(ctx, url, o.OpenRemote)
	if err != nil {
		return err
	}
	ds := make([]blob.Digest, len(rep.Problems))
	for i, p := range rep.Problems {
		if ds[i], err = blob.ParseDigest(p.Digest); err != nil {
			return err
		}
	}
	stats, err := blob.Repair(ctx, st, src, ds)
	if err != nil {
		return fmt.Errorf("repair %s from %s: %w", st.Location(), src.Location(), err)
	}
	rep.RepairedFrom = src.Location()
	left := rep.Problems[:0:0]
	for i, p := range rep.Problems {
		if err := blob.Verify(ctx, st, ds[i]); err != nil {
			p.Detail = "still damaged after the repair: " + err.Error()
			left = append(left, p)
			continue
		}
		rep.Repaired = append(rep.Repaired, p)
	}
	rep.Problems = left
	fmt.Fprintf(a.Err, "mlgit: repaired %d %s: %d damaged or missing %s fetched again from %s (%s)\n",
		len(rep.Repaired), cli.Plural(len(rep.Repaired), "blob", "blobs"), stats.Removed, cli.Plural(stats.Removed, "object", "objects"),
		src.Location(), units.Bytes(stats.Copy.StoredBytes))
	return nil
}

// verifyBuffers are the 4 MiB buffers blob verify reads blobs through.
var verifyBuffers = sync.Pool{New: func() any { b := make([]byte, 4<<20); return &b }}

// verifyOneBlob reads one blob through and reports what is wrong with it
// (nil if nothing). It returns an error only when the store itself fails
// (unreachable, access denied): then every blob would fail the same way.
func verifyOneBlob(ctx context.Context, st blob.Store, d blob.Digest, refs []repo.ArtifactRef, bar *cli.ProgressBar) (*blobProblem, error) {
	problem := func(status string, err error) *blobProblem {
		p := &blobProblem{Digest: d.String(), Status: status, Refs: refs}
		if err != nil {
			p.Detail = err.Error()
		}
		return p
	}
	classify := func(err error) (*blobProblem, error) {
		switch {
		case errors.Is(err, blob.ErrUnavailable), errors.Is(err, blob.ErrAccessDenied), errors.Is(err, context.Canceled):
			return nil, err
		case errors.Is(err, blob.ErrNotFound):
			return problem("missing", nil), nil
		case errors.Is(err, blob.ErrCorrupt):
			return problem("corrupt", err), nil
		}
		return problem("error", err), nil
	}
	rc, size, err := blob.Open(ctx, st, d)
	if err != nil {
		return classify(err)
	}
	defer rc.Close()
	for _, x := range refs {
		if x.Size != size {
			return problem("size-mismatch", fmt.Errorf("%s records %d bytes, the blob has %d", x, x.Size, size)), nil
		}
	}
	bufp := verifyBuffers.Get().(*[]byte)
	defer verifyBuffers.Put(bufp)
	if _, err := io.CopyBuffer(io.Discard, cli.NewProgressReader(rc, bar), *bufp); err != nil {
		return classify(err)
	}
	return nil, nil
}

func printVerifyReport(w io.Writer, rep blobVerifyReport, existsOnly bool) {
	what := "present and intact"
	if existsOnly {
		what = "present"
	}
	if len(rep.Problems) == 0 {
		fmt.Fprintf(w, "All %d %s (%s) referenced by %s %s %s in %s.\n", rep.Checked, cli.Plural(rep.Checked, "blob", "blobs"),
			units.Bytes(rep.Bytes), rep.Scope, cli.Plural(rep.Checked, "is", "are"), what, rep.Store)
		return
	}
	counts := map[string]int{}
	for _, p := range rep.Problems {
		counts[p.Status]++
	}
	var parts []string
	parts = append(parts, fmt.Sprintf("%d ok", rep.OK))
	for _, s := range []string{"missing", "corrupt", "size-mismatch", "error"} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	fmt.Fprintf(w, "Checked %d %s (%s) referenced by %s in %s: %s.\n\n", rep.Checked, cli.Plural(rep.Checked, "blob", "blobs"),
		units.Bytes(rep.Bytes), rep.Scope, rep.Store, strings.Join(parts, ", "))
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "%-13s %s\n", strings.ToUpper(p.Status), p.Digest)
		for i, x := range p.Refs {
			if i == 5 {
				fmt.Fprintf(w, "%-13s and %d more references\n", "", len(p.Refs)-5)
				break
			}
			fmt.Fprintf(w, "%-13s used by %s\n", "", x)
		}
		if p.Detail != "" {
			fmt.Fprintf(w, "%-13s %s\n", "", p.Detail)
		}
	}
	if counts["missing"] > 0 {
		fmt.Fprintln(w, "\nMissing blobs were never pushed (run mlgit blob push where they were added) or were removed.")
	}
	if counts["corrupt"]+counts["size-mismatch"] > 0 {
		fmt.Fprintln(w, "\nDamaged blobs must be restored from a good copy: delete the damaged objects named above and push again from a clone whose cache verifies (mlgit blob verify --local).")
	}
}

// ---- gc

type blobGCOptions struct {
	Remote string
	DryRun bool
	Yes    bool // --yes: no question asked
	AsJSON bool
	// OpenCache and OpenRemote open the stores (defaults: the local cache,
	// blob.OpenStore).
	OpenCache  func(*repo.Repo) (blob.Store, error)
	OpenRemote func(context.Context, string) (blob.Store, error)
}

// blobGCReport is what gc prints with --json.
type blobGCReport struct {
	Store         string `json:"store"`
	DryRun        bool   `json:"dry_run"`
	Referenced    int    `json:"referenced"`
	FilesDeleted  int    `json:"files_deleted"`
	ChunksDeleted int    `json:"chunks_deleted"`
	BytesDeleted  int64  `json:"bytes_deleted"`
	FilesKept     int    `json:"files_kept"`
	ChunksKept    int    `json:"chunks_kept"`
	Young         int    `json:"young"`
}

func newBlobGCCmd(a *cli.App, runF func(context.Context, *blobGCOptions) error) *cobra.Command {
	o := &blobGCOptions{}
	cmd := &cobra.Command{
		Use:   "gc [--dry-run] [--remote URL] [--json]",
		Short: "Remove blobs that nothing on the branch's history references",
		Long: `Remove blobs and chunks that no manifest anywhere in the history of the
tracking branch references (nor any copy of the branch under refs/remotes, nor
any pending write). Objects written in the last hour are never removed, so adds
and pushes running meanwhile are safe.

Without --remote it cleans the local cache (waiting for running adds to
finish). With --remote URL it cleans that store; it never picks a remote from
$MLGIT_BLOB_REMOTE or mlgit.yaml by itself. On a shared remote it first
fetches the tracking branch from every Git remote (so every clone's pushed runs
count), and takes the store's exclusive lock: it refuses while a push is
uploading, and pushes refuse while it runs (docs/blobs.md, "Cleaning up").
--dry-run reports what would be removed. It asks first on
a terminal; elsewhere (a script, cron, CI) it needs --yes.`,
		Example: `  mlgit blob gc --dry-run
  mlgit blob gc --yes
  mlgit blob gc --remote s3://ml-artifacts/churn --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runBlobGC(cmd.Context(), a, o)
		},
	}
	cmd.Flags().BoolVarP(&o.DryRun, "dry-run", "n", false, "report what would be removed; remove nothing")
	cmd.Flags().StringVar(&o.Remote, "remote", "", "clean the blob store at `URL` instead of the local cache")
	cmd.Flags().BoolVar(&o.AsJSON, "json", false, "print the result as JSON")
	cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "remove without asking")
	return cmd
}

// fetchForGC fetches the tracking branch from the repository's Git
// remotes, so that the history a remote gc keeps includes what other
// clones pushed. A remote that cannot be reached stops the gc.
func fetchForGC(ctx context.Context, r *repo.Repo) error {
	for _, name := range r.RemoteNames() {
		if _, err := r.Fetch(ctx, repo.SyncOptions{Remote: name}); err != nil {
			return fmt.Errorf("%w (blob gc on a shared store first fetches what other clones pushed, so that nothing they reference is removed)", err)
		}
	}
	return nil
}

func runBlobGC(ctx context.Context, a *cli.App, o *blobGCOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	if !o.DryRun {
		where := "the local blob cache"
		if o.Remote != "" {
			where = o.Remote
		}
		if err := a.Confirm(o.Yes, "Remove every blob nothing references from "+where+" (mlgit blob gc --dry-run lists them)"); err != nil {
			return err
		}
	}
	var st blob.Store
	if o.Remote == "" {
		open := o.OpenCache
		if open == nil {
			open = cli.OpenLocalBlobCache
		}
		if st, err = open(r); err != nil {
			return err
		}
		lock, err := r.LockBlobCache(true, 10*time.Second)
		if err != nil {
			return err
		}
		defer lock.Unlock()
	} else {
		if st, err = a.OpenBlobStore(ctx, o.Remote, o.OpenRemote); err != nil {
			return err
		}
		// Exclusive on the shared store: no push runs while gc decides
		// (a push that found a chunk present does not upload it again).
		lock, err := blob.Lock(ctx, st, true, "gc")
		if err != nil {
			return err
		}
		defer lock.Unlock()
		// What other clones pushed must count as referenced: fetch the
		// tracking branch from every Git remote that has it first.
		if err := fetchForGC(ctx, r); err != nil {
			return err
		}
	}
	refs, warnings, err := r.HistoryArtifactRefs()
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintf(a.Err, "mlgit: warning: %s\n", w)
	}
	keep := make(map[blob.Digest]bool, len(refs))
	for _, x := range refs {
		d, err := blob.ParseDigest(x.Digest)
		if err != nil {
			return fmt.Errorf("%s: %w; not collecting garbage while a manifest is unreadable", x, err)
		}
		keep[d] = true
	}
	stats, err := blob.GC(ctx, st, keep, a.Now().Add(-gcGrace), o.DryRun)
	if err != nil {
		return err
	}
	rep := blobGCReport{Store: st.Location(), DryRun: o.DryRun, Referenced: len(keep),
		FilesDeleted: stats.FilesDeleted, ChunksDeleted: stats.ChunksDeleted, BytesDeleted: stats.BytesDeleted,
		FilesKept: stats.FilesKept, ChunksKept: stats.ChunksKept, Young: stats.Young}
	if o.AsJSON {
		return cli.PrintJSON(a.Out, rep)
	}
	verb := "Removed"
	if o.DryRun {
		verb = "Would remove"
	}
	fmt.Fprintf(a.Out, "%s %d %s and %d %s (%s) from %s.\n", verb, stats.FilesDeleted, cli.Plural(stats.FilesDeleted, "blob", "blobs"),
		stats.ChunksDeleted, cli.Plural(stats.ChunksDeleted, "chunk", "chunks"), units.Bytes(stats.BytesDeleted), st.Location())
	fmt.Fprintf(a.Out, "Kept %d %s and %d %s", stats.FilesKept, cli.Plural(stats.FilesKept, "blob", "blobs"), stats.ChunksKept, cli.Plural(stats.ChunksKept, "chunk", "chunks"))
	if stats.Young > 0 {
		fmt.Fprintf(a.Out, " (%d unreferenced %s less than an hour old)", stats.Young, cli.Plural(stats.Young, "object is", "objects are"))
	}
	fmt.Fprintln(a.Out, ".")
	return nil
}
