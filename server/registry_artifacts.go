package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/mlgit/mlgit/repo"
)

// Files of registered model versions through the artifact proxy, read-only:
//
//	mlflow-artifacts:/_registry/<model>/<version>[/<path>]
//
// get-download-uri answers this URI for versions that have no run to point
// at (mlgit model register --from DIR), so the stock client downloads them
// like any other artifact: list /mlflow-artifacts/artifacts?path=_registry/
// <model>/<version>[/<dir>], then GET each file below .../artifacts/
// _registry/<model>/<version>/<path>. The files come from the version's
// manifest, as for /model-versions/get-artifact.
//
// "_registry" cannot be an experiment id (those are decimal). <model> is
// the model's key (repo.ModelKey: the name as in models/<model-key>/ on the
// tracking branch, every byte outside [A-Za-z0-9._-] and some dots written
// %XX) with '%' written '~', since the proxy refuses any path that is
// still percent-encoded after one decoding. Every valid name has exactly
// one segment, made only of [A-Za-z0-9._~-]: one path segment, unchanged
// by clients' URL quoting, never "." or "..". So "churn" is
// _registry/churn/1 and "team/churn v2" is _registry/team~2Fchurn~20v2/1.
// Non-canonical spellings are refused.

const registryRoot = "_registry"

func isRegistryPath(p string) bool {
	return p == registryRoot || strings.HasPrefix(p, registryRoot+"/")
}

// registrySegment is the path segment of a model name.
func registrySegment(name string) string {
	return strings.ReplaceAll(repo.ModelKey(name), "%", "~")
}

// registryModelName reverses registrySegment.
func registryModelName(seg string) (string, error) {
	if strings.Contains(seg, "%") {
		return "", invalidf("Invalid path: model segment %q is not the escaped form of a model name", abbrevPath(seg))
	}
	name, err := repo.ModelName(strings.ReplaceAll(seg, "~", "%"))
	if err != nil {
		return "", invalidf("Invalid path: model segment %q is not the escaped form of a model name (each byte outside [A-Za-z0-9._-] is ~XX)", abbrevPath(seg))
	}
	return name, nil
}

// registryArtifactURI is where the files of a model version are served.
func registryArtifactURI(name string, version int64) string {
	return "mlflow-artifacts:/" + registryRoot + "/" + registrySegment(name) + "/" + strconv.FormatInt(version, 10)
}

func errRegistryReadOnly(p string) error {
	return errorf(codePermissionDenied, "%q holds the files of a registered model version, which are read-only through the artifact proxy; log files to a run and register a new version instead", abbrevPath(p))
}

// registryTarget is a parsed _registry path; depth 0 is _registry, 1 a
// model, 2 a version, 3 a path in the version.
type registryTarget struct {
	name    string
	version int64
	rel     string
	depth   int
}

func parseRegistryPath(p string) (registryTarget, error) {
	segs := strings.SplitN(p, "/", 4)
	t := registryTarget{depth: len(segs) - 1}
	if len(segs) > 1 {
		name, err := registryModelName(segs[1])
		if err != nil {
			return t, err
		}
		t.name = name
	}
	if len(segs) > 2 {
		n, err := strconv.ParseInt(segs[2], 10, 64)
		if err != nil || n < 1 || strconv.FormatInt(n, 10) != segs[2] {
			return t, invalidf("Invalid path %q: the version must be a number (_registry/<model>/<version>/<path>)", abbrevPath(p))
		}
		t.version = n
	}
	if len(segs) > 3 {
		t.rel = segs[3]
	}
	return t, nil
}

// serveRegistryArtifact serves a download below _registry/ (p is checked)
// and refuses writes there.
func (s *Server) serveRegistryArtifact(w http.ResponseWriter, r *http.Request, p string) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPut, http.MethodDelete:
		s.writeError(w, r, errRegistryReadOnly(p))
		return
	default:
		s.writeError(w, r, errorf(codeEndpointNotFound, "endpoint %s does not accept %s", r.URL.Path, r.Method))
		return
	}
	t, err := parseRegistryPath(p)
	if err == nil && t.depth < 3 {
		err = invalidf("Invalid path %q: name a file below _registry/<model>/<version>/", abbrevPath(p))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := s.r.GetVersion(t.name, t.version)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for _, a := range v.Artifacts {
		if a.Path == t.rel {
			s.sendBlob(w, r, a, t.rel)
			return
		}
	}
	s.writeError(w, r, errorf(codeDoesNotExist, "model %q version %d has no file %q", t.name, t.version, abbrevPath(t.rel)))
}

// listRegistry serves the proxy listing of a checked _registry path: the
// versions of a model, or a folder of a version. _registry itself is not
// enumerated, as the proxy root is not.
func (s *Server) listRegistry(p string) (any, error) {
	t, err := parseRegistryPath(p)
	if err != nil {
		return nil, err
	}
	switch t.depth {
	case 0:
		return filesResp{}, nil
	case 1:
		vs, err := s.r.ListVersions(t.name, "")
		if err != nil {
			return nil, err
		}
		var out filesResp
		for _, v := range vs {
			out.Files = append(out.Files, fileInfoJSON{Path: strconv.FormatInt(v.Version, 10), IsDir: true})
		}
		return out, nil
	}
	v, err := s.r.GetVersion(t.name, t.version)
	if err != nil {
		return nil, err
	}
	return filesResp{Files: listEntries(v.Artifacts, t.rel, false)}, nil
}
