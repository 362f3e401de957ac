package ui_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
	"github.com/mlgit/mlgit/server"
)

// hostileModel is the most hostile valid model name: MLflow allows any
// characters, so HTML, quotes, a slash, an ampersand and a percent sign.
const hostileModel = `<img src=x onerror=alert(1)>/"'&%`

// hostileHTML goes into descriptions and tag values.
const hostileHTML = `<script>alert(2)</script><b>bold</b>`

// regRuns are the two runs seedRegistry made.
type regRuns struct{ base, cand string }

func regDigest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// regRun creates a finished run with a param, a metric, a dataset and
// model files.
func regRun(t *testing.T, r *repo.Repo, name, lr string, acc float64, parent string) string {
	t.Helper()
	run, err := r.CreateRun(repo.RunSpec{ExperimentID: "0", Name: name, Params: map[string]string{"lr": lr, "layers": "3"},
		Source: &manifest.Source{Commit: strings.Repeat("ab", 20), Branch: "main", Command: []string{"python", "train.py"}}, ParentModel: parent})
	if err != nil {
		t.Fatal(err)
	}
	ts := fixedNow.UnixMilli()
	_, err = r.LogBatch(run.ID, repo.Batch{
		Metrics: []manifest.MetricPoint{{Key: "acc", Value: acc, Timestamp: ts, Step: 10}, {Key: "loss", Value: 1 - acc, Timestamp: ts, Step: 10}},
		Inputs:  []manifest.Dataset{{Name: "churn-train", Digest: "d41d8cd9", Context: "training", Source: "s3://data/train.csv"}},
		Artifacts: []manifest.Artifact{
			{Path: "model/MLmodel", Digest: regDigest("flavors " + name), Size: 14, Mode: "0644"},
			{Path: "model/model.pkl", Digest: regDigest("PKL " + lr), Size: 2048, Mode: "0644"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.UpdateRun(run.ID, repo.RunUpdate{Status: "FINISHED", EndTime: ts + 60000}); err != nil {
		t.Fatal(err)
	}
	return run.ID
}

// seedRegistry registers two versions of model (v1 from a baseline run,
// v2 from a candidate fine-tuned from v1), with HTML in the model's
// description and in a version tag.
func seedRegistry(t *testing.T, r *repo.Repo, model string) regRuns {
	t.Helper()
	var rr regRuns
	rr.base = regRun(t, r, "baseline-run", "0.1", 0.8, "")
	reg := func(run string) {
		t.Helper()
		doc, err := r.GetRun(run)
		if err != nil {
			t.Fatal(err)
		}
		var arts []manifest.Artifact
		for _, a := range doc.Artifacts {
			a.Path = strings.TrimPrefix(a.Path, "model/")
			arts = append(arts, a)
		}
		if _, err := r.RegisterVersion(repo.VersionSpec{Name: model, Source: "runs:/" + run + "/model", RunID: run, Artifacts: arts,
			CreateModel: true, Tags: map[string]string{"note": hostileHTML}}); err != nil {
			t.Fatal(err)
		}
	}
	reg(rr.base)
	rr.cand = regRun(t, r, "candidate-run", "0.05", 0.9, model+"@v1")
	reg(rr.cand)
	if _, err := r.UpdateModel(model, repo.ModelChange{Description: ptr(hostileHTML), SetTags: map[string]string{"team": hostileHTML}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	return rr
}

func ptr[T any](v T) *T { return &v }

// regSubmit fills a form's fields (name → value; checkboxes take "true")
// and submits it the way a click would, with window.confirm answered yes.
func regSubmit(tb *tab, formSel string, fields map[string]string) {
	tb.t.Helper()
	js := fmt.Sprintf(`(() => { window.confirm = () => true; window.__regOld = true; const f = document.querySelector(%q); if (!f) return false;`, formSel)
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		js += fmt.Sprintf(`{ const e = f.elements[%q]; if (e.type === 'checkbox') e.checked = %q === 'true'; else e.value = %q; e.dispatchEvent(new Event('change', {bubbles: true})); }`, k, fields[k], fields[k])
	}
	js += `f.requestSubmit(); return true; })()`
	if !eval[bool](tb, js) {
		tb.t.Fatalf("no form %s", formSel)
	}
}

// regReloaded waits for the reload after a write and for sel.
func regReloaded(tb *tab, sel string) {
	tb.t.Helper()
	tb.waitFor(fmt.Sprintf(`!window.__regOld && document.readyState === 'complete' && document.querySelector(%q)`, sel))
}

// tagFields reads an annotated tag's message with the real git and
// returns its YAML fields (the first comment line under "#").
func tagFields(t *testing.T, dir, tag string) map[string]string {
	t.Helper()
	out := gittest.Git(t, dir, "cat-file", "-p", "refs/tags/"+tag)
	_, msg, _ := strings.Cut(out, "\n\n")
	f := map[string]string{}
	for _, l := range strings.Split(msg, "\n") {
		if strings.HasPrefix(l, "# ") {
			f["#"] = l
			continue
		}
		if k, v, ok := strings.Cut(l, ": "); ok {
			f[k] = strings.Trim(v, `"'`)
		}
	}
	return f
}

// modelTags lists a model's registry tags with the real git.
func modelTags(t *testing.T, dir, model string) []string {
	t.Helper()
	key := repo.ModelKey(model)
	out := gittest.Git(t, dir, "for-each-ref", "--format=%(refname:short)", "refs/tags/"+key+"@*", "refs/tags/"+key+"#*")
	if out == "" {
		return nil
	}
	tags := strings.Split(out, "\n")
	sort.Strings(tags)
	return tags
}

func versionURL(base, model string, v int) string {
	return fmt.Sprintf("%s/models/%s/versions/%d", base, url.PathEscape(model), v)
}

// TestRegistryPagesInBrowser: the models, model and version pages show
// the registry with the hostile name, description and tags as text; a
// promotion, an archive-existing promotion and alias moves made from the
// version page create the same Git tags, with the same message fields, as
// the same calls through repo (what the CLI runs) in a second repository.
func TestRegistryPagesInBrowser(t *testing.T) {
	e := newEnv(t)
	seedRegistry(t, e.R, hostileModel)
	b := newBrowser(t)
	tb := b.tab()

	// Models.
	tb.visit(e.URL+"/models", "#models")
	if n := tb.count("#models tbody tr"); n != 1 {
		t.Fatalf("models rows %d", n)
	}
	if got := tb.text("#models .model-name"); got != hostileModel {
		t.Fatalf("model name shown as %q", got)
	}
	if n := tb.count("img, script:not([src]), b"); n != 0 {
		t.Fatalf("%d elements injected by the name, description or tags", n)
	}
	if !strings.Contains(tb.text("#models"), hostileHTML) {
		t.Fatalf("the description or tag is not shown as text: %q", tb.text("#models"))
	}
	tb.noConsoleErrors()
	tb.screenshot("models")
	// Filter by name.
	tb.visit(e.URL+"/models?q=nothing-like-it", "main")
	if n := tb.count("#models tbody tr"); n != 0 {
		t.Fatalf("filter kept %d rows", n)
	}

	// Model.
	tb.visit(e.URL+"/models/"+url.PathEscape(hostileModel), "#versions")
	if got := tb.text("h1.model-title"); got != hostileModel {
		t.Fatalf("model title %q", got)
	}
	if n := tb.count("#versions tbody tr"); n != 2 {
		t.Fatalf("versions rows %d", n)
	}
	if got := tb.text(`#versions tr[data-version="2"] .run-link`); got != "candidate-run" {
		t.Fatalf("v2 run link %q", got)
	}
	if got := tb.text("#model-description"); got != hostileHTML {
		t.Fatalf("description %q", got)
	}
	if n := tb.count("img, script:not([src]), b"); n != 0 {
		t.Fatalf("%d elements injected", n)
	}
	tb.noConsoleErrors()
	tb.screenshot("model")

	// Version 2: lineage, files, metrics, history.
	tb.visit(versionURL(e.URL, hostileModel, 2), "#lineage")
	lin := tb.text("#lineage")
	for _, want := range []string{"candidate-run", "abababab", "churn-train", hostileModel + " v1", "baseline-run"} {
		if !strings.Contains(lin, want) {
			t.Errorf("lineage lacks %q: %s", want, lin)
		}
	}
	if n := tb.count("#files tbody tr"); n != 2 {
		t.Errorf("files rows %d", n)
	}
	if href := eval[string](tb, `document.querySelector('#files a[download]').getAttribute('href')`); !strings.HasPrefix(href, "/model-versions/get-artifact?name=") {
		t.Errorf("download link %q", href)
	}
	if m := tb.text("#metrics"); !strings.Contains(m, "acc") || !strings.Contains(m, "0.9") {
		t.Errorf("metrics %q", m)
	}
	if h := tb.text("#history"); !strings.Contains(h, "registered") {
		t.Errorf("history %q", h)
	}
	if n := tb.count("img, script:not([src]), b"); n != 0 {
		t.Fatalf("%d elements injected", n)
	}
	tb.noConsoleErrors()

	// Promote v2 to Staging with a reason, from the page.
	regSubmit(tb, "#promote", map[string]string{"stage": "Staging", "comment": "AUC 0.91 > 0.89"})
	regReloaded(tb, `#version-stage.stage-staging`)
	// Promote v1 to Staging too, archiving v2.
	tb.visit(versionURL(e.URL, hostileModel, 1), "#promote")
	regSubmit(tb, "#promote", map[string]string{"stage": "Staging", "archive_existing_versions": "true", "comment": "rollback"})
	regReloaded(tb, `#version-stage.stage-staging`)
	// Set an alias on v1 and move it to v2, then remove it.
	regSubmit(tb, "#set-alias", map[string]string{"alias": "champion", "comment": "won the A/B test"})
	regReloaded(tb, `.remove-alias`)
	tb.visit(versionURL(e.URL, hostileModel, 2), "#set-alias")
	if got := tb.text("#version-stage"); got != "Archived" {
		t.Fatalf("v2 stage after archive-existing: %q", got)
	}
	regSubmit(tb, "#set-alias", map[string]string{"alias": "champion", "comment": "new champion"})
	regReloaded(tb, `.remove-alias`)
	regSubmit(tb, ".remove-alias", map[string]string{"comment": "retired"})
	regReloaded(tb, `#set-alias`)
	if n := tb.count(".remove-alias"); n != 0 {
		t.Fatalf("alias still shown after removal")
	}
	if h := tb.text("#history"); !strings.Contains(h, "stage none → staging") || !strings.Contains(h, "AUC 0.91 > 0.89") || !strings.Contains(h, "alias champion removed") {
		t.Errorf("history after the changes: %q", h)
	}
	tb.noConsoleErrors()
	tb.screenshot("version")
	eval[bool](tb, `(document.getElementById('lineage').scrollIntoView(), true)`)
	tb.screenshot("version-lineage")
	eval[bool](tb, `(document.getElementById('files').scrollIntoView(), true)`)
	tb.screenshot("version-files")

	// The same changes through repo in a second repository.
	e2 := newEnv(t)
	seedRegistry(t, e2.R, hostileModel)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e2.R.Promote(repo.PromoteSpec{Name: hostileModel, Version: 2, Stage: "Staging", Reason: "AUC 0.91 > 0.89"}))
	must(e2.R.Promote(repo.PromoteSpec{Name: hostileModel, Version: 1, Stage: "Staging", ArchiveExisting: true, Reason: "rollback"}))
	must(e2.R.SetAlias(repo.AliasSpec{Name: hostileModel, Alias: "champion", Version: 1, Reason: "won the A/B test"}))
	must(e2.R.SetAlias(repo.AliasSpec{Name: hostileModel, Alias: "champion", Version: 2, Reason: "new champion"}))
	must(e2.R.DeleteAlias(hostileModel, "champion", "retired"))

	ui, cli := modelTags(t, e.dir, hostileModel), modelTags(t, e2.dir, hostileModel)
	if strings.Join(ui, "\n") != strings.Join(cli, "\n") {
		t.Fatalf("tags from the UI:\n%s\ntags from repo:\n%s", strings.Join(ui, "\n"), strings.Join(cli, "\n"))
	}
	key := repo.ModelKey(hostileModel)
	for _, want := range []string{key + "#staging#1", key + "#staging#2", key + "#archived#3", key + "#champion#4", key + "#champion#5", key + "#!champion#6"} {
		found := false
		for _, tg := range ui {
			found = found || tg == want
		}
		if !found {
			t.Errorf("tag %s missing: %v", want, ui)
		}
	}
	// Commits and run ids differ between the two repositories.
	hexRe := regexp.MustCompile(`[0-9a-f]{8,}`)
	for _, tg := range ui {
		a, c := tagFields(t, e.dir, tg), tagFields(t, e2.dir, tg)
		for k, v := range c {
			if hexRe.ReplaceAllString(a[k], "<hex>") != hexRe.ReplaceAllString(v, "<hex>") {
				t.Errorf("%s: field %s: UI %q, repo %q", tg, k, a[k], v)
			}
		}
		if len(a) != len(c) {
			t.Errorf("%s: UI fields %v, repo fields %v", tg, a, c)
		}
	}
	if f := tagFields(t, e.dir, key+"#staging#1"); f["reason"] != "AUC 0.91 > 0.89" || f["kind"] != "stage" || f["label"] != "staging" || f["model"] != hostileModel {
		t.Errorf("promotion tag message %v", f)
	}
}

// TestVersionProposeInBrowser: with review: true on production, the
// version page proposes: the branch mlgit-propose/<key>-v<n>-production
// exists (git for-each-ref), no tag is created, and the page shows the
// version as proposed with the branch name.
func TestVersionProposeInBrowser(t *testing.T) {
	e := newEnv(t)
	seedRegistry(t, e.R, "churn")
	cfg, err := e.R.Config()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Promotion = map[string]manifest.PromotionPolicy{"production": {Review: true}}
	if _, err := e.R.Update(func(tx *repo.Tx) error {
		tx.Write("mlgit.yaml", cfg.Encode())
		tx.SetMessage("mlgit.yaml: production needs review")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tagsBefore := modelTags(t, e.dir, "churn")
	tb := newBrowser(t).tab()
	tb.visit(versionURL(e.URL, "churn", 2), "#promote")
	eval[bool](tb, `(() => { const s = document.getElementById('promote-stage'); s.value = 'Production'; s.dispatchEvent(new Event('change')); return true; })()`)
	if got := tb.text("#promote-button"); got != "Propose for review" {
		t.Fatalf("button %q for a reviewed stage", got)
	}
	regSubmit(tb, "#promote", map[string]string{"stage": "Production", "archive_existing_versions": "true", "comment": "AUC 0.91 > 0.89"})
	regReloaded(tb, "#proposals")
	const branch = "mlgit-propose/churn-v2-production"
	if got := gittest.Git(t, e.dir, "for-each-ref", "--format=%(refname)", "refs/heads/mlgit-propose/"); got != "refs/heads/"+branch {
		t.Fatalf("proposal branches %q", got)
	}
	if got := gittest.Git(t, e.dir, "log", "-1", "--format=%B", branch); !strings.Contains(got, "AUC 0.91 > 0.89") || !strings.Contains(got, "Mlgit-Proposal: "+branch) {
		t.Fatalf("proposal commit %q", got)
	}
	if after := modelTags(t, e.dir, "churn"); strings.Join(after, ",") != strings.Join(tagsBefore, ",") {
		t.Fatalf("a proposal created tags: %v → %v", tagsBefore, after)
	}
	if got := tb.text(".version-head .badge.proposed"); got != "proposed → Production" {
		t.Fatalf("proposed badge %q", got)
	}
	if got := tb.text("#proposals .proposal-branch"); got != branch {
		t.Fatalf("branch shown %q", got)
	}
	if got := tb.text("#flash"); !strings.Contains(got, branch) {
		t.Fatalf("flash after the proposal %q", got)
	}
	if got := tb.text("#version-stage"); got != "None" {
		t.Fatalf("stage changed to %q by a proposal", got)
	}
	tb.noConsoleErrors()
	tb.screenshot("version-proposed")
}

// TestRegistryReadOnlyInBrowser: on a read-only server the version page's
// write controls are disabled, and the promotion is refused by the API.
func TestRegistryReadOnlyInBrowser(t *testing.T) {
	e := newEnv(t)
	seedRegistry(t, e.R, "churn")
	ro := serveRepo(t, e.dir, e.R, func(c *server.Config) { c.ReadOnly = true })
	tb := newBrowser(t).tab()
	tb.visit(versionURL(ro.URL, "churn", 1), "#promote")
	if !eval[bool](tb, `[...document.querySelectorAll('#promote button, #promote select, #set-alias button, .add-tag button')].every(c => c.disabled)`) {
		t.Fatal("write controls are enabled on a read-only server")
	}
	status := eval[int](tb, `fetch('/ajax-api/2.0/mlflow/model-versions/transition-stage', {method: 'POST', headers: {'Content-Type': 'application/json'},
		body: JSON.stringify({name: 'churn', version: '1', stage: 'Staging', comment: 'x'})}).then(r => r.status)`)
	if status != 403 {
		t.Fatalf("read-only promotion answered %d", status)
	}
	if v, _ := e.R.GetVersion("churn", 1); v.Stage != "None" {
		t.Fatalf("stage %s after a refused promotion", v.Stage)
	}
	tb.consoleErrors() // the refused fetch logs a 403
}

// TestRegistryPagesErrors: unknown models and versions are 404 pages, a
// bad version number 400.
func TestRegistryPagesErrors(t *testing.T) {
	e := newEnv(t)
	seedRegistry(t, e.R, "churn")
	for path, want := range map[string]int{
		"/models/nope":                     404,
		"/models/churn/versions/9":         404,
		"/models/churn/versions/x":         400,
		"/models/churn/versions/v2":        200,
		"/models/" + url.PathEscape("a/b"): 404,
	} {
		if code, _, body := e.get(path); code != want {
			t.Errorf("GET %s: %d, want %d: %.300s", path, code, want, body)
		}
	}
}

// TestRegistryEditsInBrowser: descriptions and tags of a model and of a
// version are edited from their pages through the JSON API, and HTML in
// them stays text.
func TestRegistryEditsInBrowser(t *testing.T) {
	e := newEnv(t)
	seedRegistry(t, e.R, "churn")
	tb := newBrowser(t).tab()

	tb.visit(e.URL+"/models/churn", "#edit-model-description")
	regSubmit(tb, "#edit-model-description", map[string]string{"description": "Churn <i>classifier</i>"})
	regReloaded(tb, "#model-description")
	if got := tb.text("#model-description"); got != "Churn <i>classifier</i>" {
		t.Fatalf("model description %q", got)
	}
	regSubmit(tb, ".add-tag", map[string]string{"key": "owner", "value": "<u>ml</u>"})
	regReloaded(tb, ".tags-card")
	if m, _ := e.R.GetModel("churn"); m.Description != "Churn <i>classifier</i>" || m.Tags["owner"] != "<u>ml</u>" {
		t.Fatalf("model after the edits: %q %v", m.Description, m.Tags)
	}
	// Remove the team tag.
	eval[bool](tb, `(() => { window.confirm = () => true; window.__regOld = true; [...document.querySelectorAll('.tags-card button[data-api]')].find(b => JSON.parse(b.dataset.body).key === 'team').click(); return true; })()`)
	regReloaded(tb, ".tags-card")
	if m, _ := e.R.GetModel("churn"); m.Tags["team"] != "" || m.Tags["owner"] == "" {
		t.Fatalf("model tags after the removal: %v", m.Tags)
	}
	if n := tb.count("main i, main u"); n != 0 {
		t.Fatalf("%d elements injected", n)
	}

	tb.visit(e.URL+"/models/churn/versions/1", "#edit-version-description")
	regSubmit(tb, "#edit-version-description", map[string]string{"description": "first cut"})
	regReloaded(tb, "#version-description")
	regSubmit(tb, ".add-tag", map[string]string{"key": "validated", "value": "yes"})
	regReloaded(tb, ".tags-card")
	if v, _ := e.R.GetVersion("churn", 1); v.Description != "first cut" || v.Tags["validated"] != "yes" {
		t.Fatalf("version after the edits: %q %v", v.Description, v.Tags)
	}
	tb.noConsoleErrors()
}

// TestRegistryPagesNoInline: the registry, activity and diff pages carry
// no inline script or style (the CSP would refuse them).
func TestRegistryPagesNoInline(t *testing.T) {
	e := newEnv(t)
	rr := seedRegistry(t, e.R, hostileModel)
	esc := url.PathEscape(hostileModel)
	for _, p := range []string{"/models", "/models/" + esc, "/models/" + esc + "/versions/2", "/activity",
		"/diff?a=" + rr.base + "&b=" + rr.cand, "/diff?a=" + url.QueryEscape(hostileModel+"@v1") + "&b=" + url.QueryEscape(hostileModel+"@v2")} {
		code, h, body := e.get(p)
		if code != 200 {
			t.Fatalf("GET %s: %d %.300s", p, code, body)
		}
		if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("GET %s: no CSP", p)
		}
		if strings.Contains(body, "<script>") || strings.Contains(body, "style=") || strings.Contains(body, "<style") || strings.Contains(body, "<img") {
			t.Errorf("GET %s: inline script, style or an injected element", p)
		}
	}
}
