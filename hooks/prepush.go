package hooks

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
)

// zeroSHA is what Git writes for a ref that does not exist on one side.
const zeroSHA = "0000000000000000000000000000000000000000"

// PushedRef is one line of pre-push's standard input.
type PushedRef struct {
	LocalRef, LocalSHA, RemoteRef, RemoteSHA string
}

// ParsePushInput parses pre-push's standard input: lines of
// "<local ref> <local sha> <remote ref> <remote sha>".
func ParsePushInput(r io.Reader) ([]PushedRef, error) {
	var out []PushedRef
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 4 {
			return nil, fmt.Errorf("pre-push input %q: want <local ref> <local sha> <remote ref> <remote sha>", line)
		}
		out = append(out, PushedRef{f[0], f[1], f[2], f[3]})
	}
	return out, sc.Err()
}

func isZero(sha string) bool { return strings.Trim(sha, "0") == "" }

// IsRegistryTag reports whether a ref is an mlgit registry tag: a tag
// whose name contains "@v" (registration) or "#" (stage or alias event).
func IsRegistryTag(ref string) bool {
	name, ok := strings.CutPrefix(ref, "refs/tags/")
	return ok && (strings.Contains(name, "@v") || strings.Contains(name, "#"))
}

// PrePushOptions configure PrePush.
type PrePushOptions struct {
	Config
	// Remote and URL are pre-push's arguments.
	Remote, URL string
	// BlobPush, when set, uploads the blobs that the given revisions
	// reference ("<old>..<new>" ranges or commits) to the blob remote. It
	// runs after the manifests validated and before Git sends the refs.
	BlobPush func(ctx context.Context, revs []string) error
	// Log receives progress lines (nil: none).
	Log io.Writer
}

// PrePush checks a push from the repository containing dir. For an update
// of the tracking branch it validates every manifest the pushed commits
// change (the whole tree for a new branch, or when the remote's commit is
// not known locally) and then uploads their blobs with BlobPush; for a
// registry tag it checks that the tag is annotated (CI and mlgit read only
// annotated tags). Pushes of other refs are not looked at.
func PrePush(ctx context.Context, dir string, refs []PushedRef, opt PrePushOptions) (*Report, error) {
	rep := &Report{}
	branchRef := "refs/heads/" + opt.Branch
	var revs []string
	for _, ref := range refs {
		if isZero(ref.LocalSHA) { // a deletion
			continue
		}
		switch {
		case ref.RemoteRef == branchRef:
			base := ref.RemoteSHA
			if !isZero(base) {
				if _, err := git(ctx, dir, nil, "cat-file", "-e", base+"^{commit}"); err != nil {
					base = "" // not fetched: check the whole tree
				}
			} else {
				base = ""
			}
			if err := checkRange(ctx, dir, base, ref.LocalSHA, rep); err != nil {
				return nil, err
			}
			if base != "" {
				revs = append(revs, base+".."+ref.LocalSHA)
			} else {
				revs = append(revs, ref.LocalSHA)
			}
		case IsRegistryTag(ref.RemoteRef):
			t, err := git(ctx, dir, nil, "cat-file", "-t", ref.LocalSHA)
			if err != nil {
				return nil, err
			}
			if strings.TrimSpace(string(t)) != "tag" {
				name := strings.TrimPrefix(ref.RemoteRef, "refs/tags/")
				rep.Problems = append(rep.Problems, Problem{Path: ref.RemoteRef, Kind: ProblemTag,
					Message: fmt.Sprintf("registry tag %q is a lightweight tag; mlgit and CI read only annotated tags: delete it (git tag -d '%s') and run mlgit tags sync", name, name)})
			}
		}
	}
	sortProblems(rep.Problems)
	if len(rep.Problems) > 0 {
		return rep, ErrRejected
	}
	if len(revs) > 0 && opt.BlobPush != nil {
		if opt.Log != nil {
			fmt.Fprintf(opt.Log, "mlgit pre-push: uploading blobs referenced by %s\n", strings.Join(revs, " "))
		}
		if err := opt.BlobPush(ctx, revs); err != nil {
			return rep, fmt.Errorf("upload blobs before pushing %s: %w", opt.Branch, err)
		}
	}
	return rep, nil
}

// checkRange validates the manifests changed between base and head (all
// manifests of head when base is "").
func checkRange(ctx context.Context, dir, base, head string, rep *Report) error {
	var out []byte
	var err error
	if base == "" {
		out, err = git(ctx, dir, nil, "ls-tree", "-r", "-z", "--name-only", head)
	} else {
		out, err = git(ctx, dir, nil, "diff", "--name-only", "-z", "--no-renames", "--diff-filter=AM", base, head)
	}
	if err != nil {
		return err
	}
	var paths, names []string
	for _, p := range splitZ(out) {
		if IsManifestPath(p) {
			paths = append(paths, p)
			names = append(names, head+":"+p)
		}
	}
	if len(paths) == 0 {
		return nil
	}
	contents, err := readBlobs(ctx, dir, names)
	if err != nil {
		return err
	}
	for i, p := range paths {
		rep.Checked++
		if pr := CheckManifest(p, contents[i]); pr != nil {
			pr.Message = fmt.Sprintf("(commit %s) %s", head[:min(12, len(head))], pr.Message)
			rep.Problems = append(rep.Problems, *pr)
		}
	}
	return nil
}

// PushRefsFromEnv returns the ref the pre-commit framework describes in
// its environment when it runs a pre-push hook (it consumes Git's standard
// input itself): PRE_COMMIT_LOCAL_BRANCH, PRE_COMMIT_TO_REF,
// PRE_COMMIT_REMOTE_BRANCH and PRE_COMMIT_FROM_REF. It returns nil when
// they are not set.
func PushRefsFromEnv(getenv func(string) string) []PushedRef {
	to := getenv("PRE_COMMIT_TO_REF")
	if to == "" || getenv("PRE_COMMIT_REMOTE_BRANCH") == "" {
		return nil
	}
	from := getenv("PRE_COMMIT_FROM_REF")
	if from == "" {
		from = zeroSHA
	}
	return []PushedRef{{LocalRef: getenv("PRE_COMMIT_LOCAL_BRANCH"), LocalSHA: to, RemoteRef: getenv("PRE_COMMIT_REMOTE_BRANCH"), RemoteSHA: from}}
}
