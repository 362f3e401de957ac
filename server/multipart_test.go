package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

const mpu = "/api/2.0/mlflow-artifacts/mpu"

// mpuClient drives a multipart upload over real HTTP the way MLflow's
// HttpArtifactRepository does: create, complete and abort are API calls
// with the client's credentials; parts are plain PUTs to the returned urls
// with the returned headers and nothing else.
type mpuClient struct {
	t    *testing.T
	base string
	hc   *http.Client
	auth string // Authorization for API calls, if any
}

type mpuCred struct {
	URL        string            `json:"url"`
	PartNumber int64             `json:"part_number"`
	Headers    map[string]string `json:"headers"`
}

func (c *mpuClient) post(op, dir string, body any) (int, string) {
	c.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", c.base+mpu+"/"+op+"/"+dir, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(data)
}

func (c *mpuClient) create(dir, local string, n int) (id string, creds []mpuCred) {
	c.t.Helper()
	st, body := c.post("create", dir, map[string]any{"path": local, "num_parts": n})
	if st != 200 {
		c.t.Fatalf("create: %d %s", st, body)
	}
	var v struct {
		UploadID    string    `json:"upload_id"`
		Credentials []mpuCred `json:"credentials"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		c.t.Fatal(err)
	}
	return v.UploadID, v.Credentials
}

// putPart is MLflow's _upload_part: requests.put(url, data, headers).
func (c *mpuClient) putPart(cred mpuCred, data []byte) (int, string, string) {
	req, _ := http.NewRequest("PUT", cred.URL, bytes.NewReader(data))
	for k, v := range cred.Headers {
		req.Header.Set(k, v)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Error(err)
		return 0, "", ""
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("ETag"), string(body)
}

func partsJSON(nums []int64, etags []string) []map[string]any {
	var out []map[string]any
	for i := range nums {
		out = append(out, map[string]any{"part_number": nums[i], "etag": etags[i], "url": nil})
	}
	return out
}

func quotedSHA(b []byte) string {
	h := sha256.Sum256(b)
	return `"` + hex.EncodeToString(h[:]) + `"`
}

// testBytes returns n deterministic pseudo-random bytes.
func testBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func stagingEntries(t *testing.T, e *testEnv) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(e.r.StateDir(), "mpu"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestMultipartUploadMatchesPlainPut uploads 64 MiB in seven parts (MLflow's
// default 10 MiB chunks) concurrently, and checks that the artifact is
// recorded exactly as a plain PUT of the same bytes is: listing, sizes,
// digests and downloaded bytes.
func TestMultipartUploadMatchesPlainPut(t *testing.T) {
	e := newEnv(t)
	ts := httptest.NewServer(e.s)
	defer ts.Close()
	c := &mpuClient{t: t, base: ts.URL, hc: ts.Client()}
	runMPU, runPUT := e.createRun("0"), e.createRun("0")

	const size, chunk = 64 << 20, 10 << 20
	data := testBytes(size, 1)
	n := (size + chunk - 1) / chunk
	dir := "0/" + runMPU + "/artifacts/model/data"
	id, creds := c.create(dir, "/home/alice/out/weights.bin", n)
	if len(id) != 32 || len(creds) != n {
		t.Fatalf("create: id %q, %d credentials", id, len(creds))
	}
	for i, cr := range creds {
		if want := ts.URL + mpu + "/part/" + id + "/" + fmt.Sprint(i+1); cr.URL != want || cr.PartNumber != int64(i+1) {
			t.Fatalf("credential %d: %+v, want url %s", i, cr, want)
		}
	}

	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	etags := make([]string, n)
	var wg sync.WaitGroup
	for i := n - 1; i >= 0; i-- { // out of order, all at once
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			part := data[i*chunk : min((i+1)*chunk, size)]
			st, etag, body := c.putPart(creds[i], part)
			if st != 200 || body != "{}" || etag != quotedSHA(part) {
				t.Errorf("part %d: %d %s etag %s", i+1, st, body, etag)
			}
			etags[i] = etag
		}(i)
	}
	wg.Wait()
	runtime.ReadMemStats(&ms1)
	if t.Failed() {
		t.FailNow()
	}
	// Parts are streamed to disk: the server allocates a small fraction of
	// the 64 MiB it received (buffers, not the bytes).
	t.Logf("alloc %d KiB", (ms1.TotalAlloc-ms0.TotalAlloc)>>10)
	if alloc := ms1.TotalAlloc - ms0.TotalAlloc; alloc > 24<<20 {
		t.Errorf("part PUTs allocated %d MiB for 64 MiB of parts", alloc>>20)
	}
	if got := len(stagingEntries(t, e)); got != 1 {
		t.Fatalf("staging has %d uploads, want 1", got)
	}

	nums := make([]int64, n)
	for i := range nums {
		nums[i] = int64(i + 1)
	}
	st, body := c.post("complete", dir, map[string]any{"path": "/home/alice/out/weights.bin", "upload_id": id, "parts": partsJSON(nums, etags)})
	if st != 200 || body != "{}" {
		t.Fatalf("complete: %d %s", st, body)
	}
	if s := stagingEntries(t, e); len(s) != 0 {
		t.Fatalf("staging left after complete: %v", s)
	}

	// The same bytes by a plain PUT to another run.
	req, _ := http.NewRequest("PUT", ts.URL+proxy+"/0/"+runPUT+"/artifacts/model/data/weights.bin", bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/octet-stream")
	res, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("plain PUT: %d", res.StatusCode)
	}

	a, _ := e.r.GetRun(runMPU)
	b, _ := e.r.GetRun(runPUT)
	if len(a.Artifacts) != 1 || fmt.Sprint(a.Artifacts) != fmt.Sprint(b.Artifacts) {
		t.Fatalf("artifact index differs:\n multipart %+v\n plain     %+v", a.Artifacts, b.Artifacts)
	}
	h := sha256.Sum256(data)
	if a.Artifacts[0].Digest != "sha256:"+hex.EncodeToString(h[:]) || a.Artifacts[0].Size != size || a.Artifacts[0].Path != "model/data/weights.bin" {
		t.Fatalf("artifact %+v", a.Artifacts[0])
	}
	for _, run := range []string{runMPU, runPUT} {
		for _, p := range []string{"", "/model", "/model/data"} {
			wantSame := e.do("GET", proxy+"?path=0/"+runMPU+"/artifacts"+p, "").body
			if got := e.do("GET", proxy+"?path=0/"+run+"/artifacts"+p, "").body; got != wantSame {
				t.Fatalf("listing %s: %s vs %s", p, got, wantSame)
			}
		}
		wantJSON(t, e.do("GET", proxy+"?path=0/"+run+"/artifacts/model/data", "").body,
			`{"files":[{"path":"weights.bin","is_dir":false,"file_size":67108864}]}`)
		res, err := ts.Client().Get(ts.URL + proxy + "/0/" + run + "/artifacts/model/data/weights.bin")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !bytes.Equal(got, data) || res.Header.Get("Content-Disposition") != "attachment; filename=weights.bin" {
			t.Fatalf("GET %s: %d, %d bytes, %v", run, res.StatusCode, len(got), res.Header)
		}
	}
}

// TestMultipartCreateResponse checks create's exact JSON and the part
// urls it derives from the request.
func TestMultipartCreateResponse(t *testing.T) {
	e := newEnv(t)
	id := e.createRun("0")
	r := e.do("POST", mpu+"/create/0/"+id+"/artifacts", `{"path":"model.bin","num_parts":3}`)
	var v struct {
		UploadID string `json:"upload_id"`
	}
	json.Unmarshal([]byte(r.body), &v)
	if r.status != 200 || !uploadIDRe.MatchString(v.UploadID) {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	base := "http://localhost:5000" + mpu + "/part/" + v.UploadID + "/"
	wantJSON(t, r.body, `{"upload_id":"`+v.UploadID+`","credentials":[{"url":"`+base+`1","part_number":1},{"url":"`+base+`2","part_number":2},{"url":"`+base+`3","part_number":3}]}`)
	// Behind a TLS-terminating proxy the urls are https; the ajax mirror
	// serves the same calls.
	r = e.do("POST", "/ajax-api/2.0/mlflow-artifacts/mpu/create/0/"+id+"/artifacts/sub", `{"path":"C:\\Users\\a\\model.bin","num_parts":1}`, "X-Forwarded-Proto", "https", "Host", "127.0.0.1:8443")
	if r.status != 200 || !strings.Contains(r.body, `"url":"https://127.0.0.1:8443/api/2.0/mlflow-artifacts/mpu/part/`) {
		t.Fatalf("https create: %d %s", r.status, r.body)
	}
	// Two unguessable ids.
	r2 := e.do("POST", mpu+"/create/0/"+id+"/artifacts", `{"path":"model.bin","num_parts":1}`)
	if strings.Contains(r2.body, v.UploadID) {
		t.Fatal("upload id reused")
	}
}

func TestMultipartErrors(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxArtifactSize = 1000 })
	run := e.createRun("0")
	dir := "0/" + run + "/artifacts/m"
	create := func(body string) resp { return e.do("POST", mpu+"/create/"+dir, body) }

	// create
	for _, b := range []string{`{"num_parts":1}`, `{"path":"","num_parts":1}`, `{"path":"x.bin"}`, `{"path":"x.bin","num_parts":0}`,
		`{"path":"x.bin","num_parts":-1}`, `{"path":"x.bin","num_parts":10001}`, `{"path":"x.bin","num_parts":"two"}`, `{"path":"x.bin","num_parts":1.5}`,
		`{"path":"dir/","num_parts":1}`, `{"path":"..","num_parts":1}`, `{"path":"a/.","num_parts":1}`, `{"path":"C:\\x\\..","num_parts":1}`,
		`{"path":"%2e%2e","num_parts":1}`, `{"path":"a#b","num_parts":1}`, `{"path":"a\u0000b","num_parts":1}`, `{"path":5}`, `[`} {
		wantError(t, create(b), 400, "INVALID_PARAMETER_VALUE")
	}
	wantError(t, e.do("POST", mpu+"/create/"+dir, `{"path":"x.bin","num_parts":1}`, "Content-Type", "text/plain"), 400, "BAD_REQUEST")
	wantError(t, e.do("POST", mpu+"/create/"+dir, `{"path":"x.bin","num_parts":1}`, "Origin", "http://evil.example"), 403, "PERMISSION_DENIED")
	wantError(t, e.do("POST", mpu+"/create/0/"+run, `{"path":"x.bin","num_parts":1}`), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.do("POST", mpu+"/create/0/"+run+"/other", `{"path":"x.bin","num_parts":1}`), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.do("POST", mpu+"/create/", `{"path":"x.bin","num_parts":1}`), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.do("POST", mpu+"/create/0/"+strings.Repeat("a", 32)+"/artifacts", `{"path":"x.bin","num_parts":1}`), 404, "RESOURCE_DOES_NOT_EXIST")
	wantError(t, e.do("POST", mpu+"/create/7/"+run+"/artifacts", `{"path":"x.bin","num_parts":1}`), 404, "RESOURCE_DOES_NOT_EXIST")
	wantError(t, e.do("GET", mpu+"/create/"+dir, ""), 404, "ENDPOINT_NOT_FOUND")
	wantError(t, e.do("POST", mpu+"/list/"+dir, `{}`), 404, "ENDPOINT_NOT_FOUND")
	wantError(t, e.do("POST", mpu+"/create", `{}`), 404, "ENDPOINT_NOT_FOUND")

	// An upload of 3 parts; parts and their errors.
	r := create(`{"path":"/tmp/x.bin","num_parts":3}`)
	var up struct {
		UploadID string `json:"upload_id"`
	}
	json.Unmarshal([]byte(r.body), &up)
	if r.status != 200 {
		t.Fatal(r.body)
	}
	part := func(n string, body string, hdr ...string) resp {
		return e.do("PUT", mpu+"/part/"+up.UploadID+"/"+n, body, append([]string{"Content-Type", ""}, hdr...)...)
	}
	for _, n := range []string{"0", "4", "01", "-1", "x", "", "1/2", "99999999999999999999"} {
		wantError(t, part(n, "data"), 400, "INVALID_PARAMETER_VALUE")
	}
	for _, id := range []string{strings.Repeat("0", 32), "", "xyz", strings.ToUpper(up.UploadID), up.UploadID + "0", "../" + up.UploadID} {
		wantError(t, e.do("PUT", mpu+"/part/"+id+"/1", "data"), 404, "RESOURCE_DOES_NOT_EXIST")
	}
	wantError(t, e.do("PUT", mpu+"/part/"+up.UploadID, "data"), 404, "ENDPOINT_NOT_FOUND")
	wantError(t, e.do("GET", mpu+"/part/"+up.UploadID+"/1", ""), 404, "ENDPOINT_NOT_FOUND")
	wantError(t, e.do("POST", mpu+"/part/"+up.UploadID+"/1", "data"), 404, "ENDPOINT_NOT_FOUND")
	wantError(t, part("1", "data", "Host", "evil.example"), 403, "PERMISSION_DENIED")
	wantError(t, part("1", "data", "Origin", "http://evil.example"), 403, "PERMISSION_DENIED")
	// Size bounds: 1000 bytes for the whole artifact.
	wantError(t, part("1", strings.Repeat("a", 1001)), 400, "INVALID_PARAMETER_VALUE")
	p1, p2, p3 := strings.Repeat("a", 600), strings.Repeat("b", 300), strings.Repeat("c", 100)
	if r := part("1", p1); r.status != 200 || r.header.Get("ETag") != quotedSHA([]byte(p1)) {
		t.Fatalf("part 1: %d %s %v", r.status, r.body, r.header)
	}
	wantError(t, part("2", strings.Repeat("b", 401)), 400, "INVALID_PARAMETER_VALUE")
	// A part sent again replaces the earlier one.
	if r := part("2", "first try"); r.status != 200 {
		t.Fatal(r.body)
	}
	for _, p := range [][2]string{{"2", p2}, {"3", p3}} {
		if r := part(p[0], p[1]); r.status != 200 {
			t.Fatal(r.body)
		}
	}
	e1, e2, e3 := quotedSHA([]byte(p1)), quotedSHA([]byte(p2)), quotedSHA([]byte(p3))

	complete := func(local, id string, parts []map[string]any) resp {
		b, _ := json.Marshal(map[string]any{"path": local, "upload_id": id, "parts": parts})
		return e.do("POST", mpu+"/complete/"+dir, string(b))
	}
	all := partsJSON([]int64{1, 2, 3}, []string{e1, e2, e3})
	wantError(t, complete("/tmp/x.bin", strings.Repeat("0", 32), all), 404, "RESOURCE_DOES_NOT_EXIST")
	wantError(t, complete("/tmp/x.bin", "nothex", all), 404, "RESOURCE_DOES_NOT_EXIST")
	wantError(t, complete("/tmp/x.bin", "", all), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, complete("/tmp/x.bin", up.UploadID, nil), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, complete("/tmp/y.bin", up.UploadID, all), 400, "INVALID_PARAMETER_VALUE") // another destination
	wantError(t, e.do("POST", mpu+"/complete/"+dir, `{"path":"/tmp/x.bin","upload_id":"`+up.UploadID+`","parts":[{"etag":"x"}]}`), 400, "INVALID_PARAMETER_VALUE")
	for _, bad := range [][]map[string]any{
		partsJSON([]int64{1, 2, 4}, []string{e1, e2, e3}),                             // out of range
		partsJSON([]int64{0, 1}, []string{e1, e1}),                                    // out of range
		partsJSON([]int64{2, 1, 3}, []string{e2, e1, e3}),                             // not ascending
		partsJSON([]int64{1, 1, 2, 3}, []string{e1, e1, e2, e3}),                      // repeated
		partsJSON([]int64{1, 2, 3}, []string{e1, e3, e3}),                             // etag mismatch
		partsJSON([]int64{1, 2, 3}, []string{e1, quotedSHA([]byte("first try")), e3}), // the replaced part
		partsJSON([]int64{1, 2, 3}, []string{e1, "", e3}),
	} {
		wantError(t, complete("/tmp/x.bin", up.UploadID, bad), 400, "INVALID_PARAMETER_VALUE")
	}
	// A missing part, in an upload with parts 1..3 where 3 was never sent.
	r = create(`{"path":"/tmp/z.bin","num_parts":3}`)
	var up2 struct {
		UploadID string `json:"upload_id"`
	}
	json.Unmarshal([]byte(r.body), &up2)
	e.do("PUT", mpu+"/part/"+up2.UploadID+"/1", "z")
	wantError(t, complete("/tmp/z.bin", up2.UploadID, partsJSON([]int64{1, 3}, []string{quotedSHA([]byte("z")), e3})), 400, "INVALID_PARAMETER_VALUE")
	if d, _ := e.r.GetRun(run); len(d.Artifacts) != 0 {
		t.Fatalf("failed completes recorded %v", d.Artifacts)
	}

	// After those failures the upload is intact. ETags compare without
	// quotes and in any case; a subset of parts in ascending order is what
	// S3 accepts too.
	etagNoQuotes := strings.ToUpper(strings.Trim(e2, `"`))
	if r := complete("/tmp/x.bin", up.UploadID, partsJSON([]int64{1, 2}, []string{e1, etagNoQuotes})); r.status != 200 || r.body != "{}" {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
	if r := e.do("GET", proxy+"/"+dir+"/x.bin", ""); r.body != p1+p2 {
		t.Fatalf("content %d bytes", len(r.body))
	}
	wantError(t, complete("/tmp/x.bin", up.UploadID, all), 404, "RESOURCE_DOES_NOT_EXIST")
	wantError(t, part("3", p3), 404, "RESOURCE_DOES_NOT_EXIST")
	wantError(t, e.do("POST", mpu+"/abort/"+dir, `{"path":"/tmp/x.bin","upload_id":"`+up.UploadID+`"}`), 404, "RESOURCE_DOES_NOT_EXIST")

	// Abort removes the staging; the upload is gone.
	wantError(t, e.do("POST", mpu+"/abort/"+dir, `{"path":"/tmp/other.bin","upload_id":"`+up2.UploadID+`"}`), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.do("POST", mpu+"/abort/"+dir, `{"path":"/tmp/z.bin"}`), 400, "INVALID_PARAMETER_VALUE")
	if r := e.do("POST", mpu+"/abort/"+dir, `{"path":"/tmp/z.bin","upload_id":"`+up2.UploadID+`"}`); r.status != 200 || r.body != "{}" {
		t.Fatalf("abort: %d %s", r.status, r.body)
	}
	wantError(t, e.do("PUT", mpu+"/part/"+up2.UploadID+"/2", "z"), 404, "RESOURCE_DOES_NOT_EXIST")
	wantError(t, complete("/tmp/z.bin", up2.UploadID, partsJSON([]int64{1}, []string{quotedSHA([]byte("z"))})), 404, "RESOURCE_DOES_NOT_EXIST")
	if s := stagingEntries(t, e); len(s) != 0 {
		t.Fatalf("staging left: %v", s)
	}
	if d, _ := e.r.GetRun(run); len(d.Artifacts) != 1 || d.Artifacts[0].Path != "m/x.bin" || d.Artifacts[0].Size != 900 {
		t.Fatalf("artifacts %+v", d.Artifacts)
	}

	// The total is checked again at complete (here the limit shrank after
	// the parts came).
	r = create(`{"path":"/tmp/t.bin","num_parts":2}`)
	var up3 struct {
		UploadID string `json:"upload_id"`
	}
	json.Unmarshal([]byte(r.body), &up3)
	var tags []string
	for _, n := range []string{"1", "2"} {
		pr := e.do("PUT", mpu+"/part/"+up3.UploadID+"/"+n, p2, "Content-Type", "")
		tags = append(tags, pr.header.Get("ETag"))
	}
	e.s.cfg.MaxArtifactSize = 500
	wantError(t, complete("/tmp/t.bin", up3.UploadID, partsJSON([]int64{1, 2}, tags)), 400, "INVALID_PARAMETER_VALUE")
	e.s.cfg.MaxArtifactSize = 1000

	// A deleted run takes no uploads.
	e.ok("POST", "/runs/delete", `{"run_id":"`+run+`"}`)
	wantError(t, create(`{"path":"/tmp/x.bin","num_parts":1}`), 400, "INVALID_PARAMETER_VALUE")
}

// TestMultipartCompleteOnDeletedRun: the run is checked again at complete,
// and the parts stay for an abort.
func TestMultipartCompleteOnDeletedRun(t *testing.T) {
	e := newEnv(t)
	run := e.createRun("0")
	dir := "0/" + run + "/artifacts"
	r := e.do("POST", mpu+"/create/"+dir, `{"path":"a.bin","num_parts":1}`)
	var up struct {
		UploadID string `json:"upload_id"`
	}
	json.Unmarshal([]byte(r.body), &up)
	pr := e.do("PUT", mpu+"/part/"+up.UploadID+"/1", "A", "Content-Type", "")
	e.ok("POST", "/runs/delete", `{"run_id":"`+run+`"}`)
	wantError(t, e.do("POST", mpu+"/complete/"+dir, `{"path":"a.bin","upload_id":"`+up.UploadID+`","parts":[{"part_number":1,"etag":`+mustJSON(pr.header.Get("ETag"))+`}]}`), 400, "INVALID_PARAMETER_VALUE")
	if r := e.do("POST", mpu+"/abort/"+dir, `{"path":"a.bin","upload_id":"`+up.UploadID+`"}`); r.status != 200 {
		t.Fatalf("abort: %d %s", r.status, r.body)
	}
}

// TestMultipartLoggedModel: MLflow 3 logs model files below the logged
// model's artifact location; large ones may come in parts.
func TestMultipartLoggedModel(t *testing.T) {
	e := newEnv(t)
	v := e.ok("POST", "/logged-models", `{"experiment_id":"0","name":"m"}`)
	id := v["model"].(map[string]any)["info"].(map[string]any)["model_id"].(string)
	dir := "0/models/" + id + "/artifacts"
	r := e.do("POST", mpu+"/create/"+dir, `{"path":"model.pkl","num_parts":2}`)
	var up struct {
		UploadID string `json:"upload_id"`
	}
	json.Unmarshal([]byte(r.body), &up)
	var parts []map[string]any
	for i, b := range []string{"PICK", "LE"} {
		pr := e.do("PUT", mpu+"/part/"+up.UploadID+"/"+fmt.Sprint(i+1), b, "Content-Type", "")
		parts = append(parts, map[string]any{"part_number": i + 1, "etag": pr.header.Get("ETag")})
	}
	if r := e.do("POST", mpu+"/complete/"+dir, mustJSON(map[string]any{"path": "model.pkl", "upload_id": up.UploadID, "parts": parts})); r.status != 200 {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
	if r := e.do("GET", proxy+"/"+dir+"/model.pkl", ""); r.status != 200 || r.body != "PICKLE" {
		t.Fatalf("GET: %d %q", r.status, r.body)
	}
}

// TestMultipartAuthAndReadOnly: create, complete and abort need the
// client's credentials; parts do not (the upload id is the capability).
// Read-only refuses all of them.
func TestMultipartAuthAndReadOnly(t *testing.T) {
	a, err := ParseAuth(strings.NewReader("token ci " + HashSHA256([]byte("salt"), "tok-123") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) { c.Auth = a })
	ts := httptest.NewServer(e.s)
	defer ts.Close()
	e.s.cfg.Auth = nil
	run := e.createRun("0")
	e.s.cfg.Auth = a
	dir := "0/" + run + "/artifacts"
	anon := &mpuClient{t: t, base: ts.URL, hc: ts.Client()}
	c := &mpuClient{t: t, base: ts.URL, hc: ts.Client(), auth: "Bearer tok-123"}
	body := map[string]any{"path": "f.bin", "num_parts": 1}
	if st, b := anon.post("create", dir, body); st != 401 || !strings.Contains(b, "UNAUTHENTICATED") {
		t.Fatalf("anonymous create: %d %s", st, b)
	}
	if st, b := (&mpuClient{t: t, base: ts.URL, hc: ts.Client(), auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("x:y"))}).post("create", dir, body); st != 401 {
		t.Fatalf("bad credentials: %d %s", st, b)
	}
	id, creds := c.create(dir, "f.bin", 1)
	st, etag, b := anon.putPart(creds[0], []byte("DATA"))
	if st != 200 || etag != quotedSHA([]byte("DATA")) {
		t.Fatalf("part without credentials: %d %s", st, b)
	}
	done := map[string]any{"path": "f.bin", "upload_id": id, "parts": partsJSON([]int64{1}, []string{etag})}
	if st, b := anon.post("complete", dir, done); st != 401 {
		t.Fatalf("anonymous complete: %d %s", st, b)
	}
	if st, b := anon.post("abort", dir, map[string]any{"path": "f.bin", "upload_id": id}); st != 401 {
		t.Fatalf("anonymous abort: %d %s", st, b)
	}
	if st, b := c.post("complete", dir, done); st != 200 || b != "{}" {
		t.Fatalf("complete: %d %s", st, b)
	}

	id, creds = c.create(dir, "g.bin", 1)
	e.s.cfg.ReadOnly = true
	for _, op := range []string{"create", "complete", "abort"} {
		st, b := c.post(op, dir, map[string]any{"path": "g.bin", "num_parts": 1, "upload_id": id, "parts": partsJSON([]int64{1}, []string{etag})})
		if st != 403 || !strings.Contains(b, "PERMISSION_DENIED") {
			t.Fatalf("read-only %s: %d %s", op, st, b)
		}
	}
	if st, _, b := anon.putPart(creds[0], []byte("DATA")); st != 403 || !strings.Contains(b, "PERMISSION_DENIED") {
		t.Fatalf("read-only part: %d %s", st, b)
	}
	if d, _ := e.r.GetRun(run); len(d.Artifacts) != 1 {
		t.Fatalf("artifacts %v", d.Artifacts)
	}
}

// TestMultipartStaleUploads: uploads older than uploadTTL are refused and
// their staging is removed when another upload is created.
func TestMultipartStaleUploads(t *testing.T) {
	e := newEnv(t)
	run := e.createRun("0")
	dir := "0/" + run + "/artifacts"
	newUpload := func() string {
		r := e.do("POST", mpu+"/create/"+dir, `{"path":"a.bin","num_parts":2}`)
		var up struct {
			UploadID string `json:"upload_id"`
		}
		json.Unmarshal([]byte(r.body), &up)
		if r.status != 200 {
			t.Fatal(r.body)
		}
		return up.UploadID
	}
	age := func(id string, d time.Duration) {
		p := filepath.Join(e.r.StateDir(), "mpu", stagingKey(id), uploadMeta)
		st, err := readUploadState(filepath.Dir(p))
		if err != nil {
			t.Fatal(err)
		}
		st.Created = time.Now().Add(-d).UnixMilli()
		b, _ := json.Marshal(st)
		os.WriteFile(p, b, 0o600)
	}
	old, old2, fresh := newUpload(), newUpload(), newUpload()
	if r := e.do("PUT", mpu+"/part/"+old+"/1", "x"); r.status != 200 {
		t.Fatal(r.body)
	}
	age(old, 25*time.Hour)
	age(old2, 25*time.Hour)
	age(fresh, 23*time.Hour)
	wantError(t, e.do("PUT", mpu+"/part/"+old+"/2", "x"), 404, "RESOURCE_DOES_NOT_EXIST")
	// A leftover of an interrupted create, and the next create cleans up.
	leftover := filepath.Join(e.r.StateDir(), "mpu", ".tmp-123")
	os.Mkdir(leftover, 0o700)
	os.Chtimes(leftover, time.Now().Add(-48*time.Hour), time.Now().Add(-48*time.Hour))
	if got := len(stagingEntries(t, e)); got != 3 { // old was removed when refused
		t.Fatalf("%d staging entries before cleanup, want 3", got)
	}
	newUpload()
	if got := len(stagingEntries(t, e)); got != 2 {
		t.Fatalf("%d staging entries after cleanup, want 2 (fresh and new)", got)
	}
	if r := e.do("PUT", mpu+"/part/"+fresh+"/1", "x"); r.status != 200 {
		t.Fatalf("fresh upload: %d %s", r.status, r.body)
	}
	wantError(t, e.do("POST", mpu+"/abort/"+dir, `{"path":"a.bin","upload_id":"`+old2+`"}`), 404, "RESOURCE_DOES_NOT_EXIST")
}

// TestMultipartTooManyUploads: past maxOpenUploads, create answers
// MLflow's "not supported" so that the client falls back to a plain PUT.
func TestMultipartTooManyUploads(t *testing.T) {
	e := newEnv(t)
	run := e.createRun("0")
	root := filepath.Join(e.r.StateDir(), "mpu")
	for i := 0; i < maxOpenUploads; i++ {
		if err := os.MkdirAll(filepath.Join(root, fmt.Sprintf("busy-%d", i)), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	r := e.do("POST", mpu+"/create/0/"+run+"/artifacts", `{"path":"a.bin","num_parts":1}`)
	wantError(t, r, 501, "NOT_IMPLEMENTED")
	if !strings.Contains(r.body, `"message":"`+unsupportedMultipart) {
		t.Fatalf("message does not start with MLflow's fallback text: %s", r.body)
	}
}

// TestMultipartTraversalRefused runs the proxy's traversal spellings
// against the multipart routes (the URL directory, the body's path and the
// part urls).
func TestMultipartTraversalRefused(t *testing.T) {
	e := newEnv(t)
	id := e.createRun("0")
	if r := e.do("PUT", proxy+"/0/"+id+"/artifacts/ok.txt", "ok"); r.status != 200 {
		t.Fatal(r.body)
	}
	secret := filepath.Join(e.dir, "secret.txt")
	os.WriteFile(secret, []byte("SECRET"), 0o600)
	vectors := traversal("/0/" + id + "/artifacts")
	vectors = append(vectors, "/0/"+id+"/artifacts/"+strings.Repeat("../", 20)+strings.TrimPrefix(secret, "/"), "/_registry/x/1")
	body := `{"path":"f.bin","num_parts":1,"upload_id":"` + strings.Repeat("a", 32) + `","parts":[{"part_number":1,"etag":"x"}]}`
	for _, v := range vectors {
		for _, op := range []string{"create", "complete", "abort"} {
			r := e.raw("POST", mpu+"/"+op+v, body)
			if testing.Verbose() {
				t.Logf("%s %s -> %d %.90s", op, v, r.status, r.body)
			}
			if r.status == 200 || r.status >= 500 || strings.Contains(r.body, "SECRET") || strings.Contains(r.body, "root:") {
				t.Errorf("%s %s: %d %s", op, v, r.status, r.body)
			}
			if r.status != 400 && r.status != 403 && r.status != 404 {
				t.Errorf("%s %s: status %d, want 400, 403 or 404: %s", op, v, r.status, r.body)
			}
		}
		r := e.raw("PUT", mpu+"/part"+v, "pwned")
		if r.status != 400 && r.status != 404 {
			t.Errorf("part %s: %d %s", v, r.status, r.body)
		}
	}
	// The body's path counts by its base name only, and that must be a
	// file name the artifact routes accept.
	for _, p := range []string{"..", ".", "", "a/", "a/..", `C:\x\..`, "%2e%2e", "..%2f..%2fetc", "a\x00b", "a#b", "a;b", "a?b", "x\\"} {
		b, _ := json.Marshal(map[string]any{"path": p, "num_parts": 1})
		wantError(t, e.do("POST", mpu+"/create/0/"+id+"/artifacts", string(b)), 400, "INVALID_PARAMETER_VALUE")
	}
	// A traversal in the local path is cut to its base name: the file
	// lands inside the run, never outside.
	r := e.do("POST", mpu+"/create/0/"+id+"/artifacts", `{"path":"../../../etc/passwd","num_parts":1}`)
	var up struct {
		UploadID string `json:"upload_id"`
	}
	json.Unmarshal([]byte(r.body), &up)
	pr := e.do("PUT", mpu+"/part/"+up.UploadID+"/1", "mine", "Content-Type", "")
	if r := e.do("POST", mpu+"/complete/0/"+id+"/artifacts", `{"path":"../../../etc/passwd","upload_id":"`+up.UploadID+`","parts":[{"part_number":1,"etag":`+mustJSON(pr.header.Get("ETag"))+`}]}`); r.status != 200 {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
	d, _ := e.r.GetRun(id)
	if len(d.Artifacts) != 2 || d.Artifacts[0].Path != "ok.txt" || d.Artifacts[1].Path != "passwd" {
		t.Fatalf("artifact index: %+v", d.Artifacts)
	}
}

// TestMultipartNeverFiveHundred throws malformed bodies at the multipart
// routes.
func TestMultipartNeverFiveHundred(t *testing.T) {
	e := newEnv(t)
	id := e.createRun("0")
	bodies := []string{``, `null`, `[]`, `"x"`, `{"path":5}`, `{"path":null}`, `{"path":"a","num_parts":{}}`, `{"path":"a","num_parts":1e40}`,
		`{"path":"a","upload_id":5}`, `{"path":"a","upload_id":"` + strings.Repeat("a", 32) + `","parts":"x"}`,
		`{"path":"a","upload_id":"x","parts":[null]}`, `{"path":"a","upload_id":"x","parts":[{"part_number":"x"}]}`,
		`{"path":"a","upload_id":"x","parts":[{"part_number":1,"etag":7}]}`, `{"path":"` + "\xff\xfe" + `"}`, `{"path":"a","num_parts":true}`}
	for _, op := range []string{"create", "complete", "abort", "x"} {
		for _, b := range bodies {
			for _, dir := range []string{"0/" + id + "/artifacts", "", "0", "%zz", "%252e%252e", "_registry/m/1"} {
				if r := e.raw("POST", mpu+"/"+op+"/"+dir, b); r.status >= 500 {
					t.Errorf("%s %s %s: %d %s", op, dir, b, r.status, r.body)
				}
			}
		}
	}
	for _, target := range []string{"/part/", "/part/x", "/part/x/1", "/part/" + strings.Repeat("a", 32) + "/1", "/part/%zz/1"} {
		for _, m := range []string{"PUT", "GET", "DELETE"} {
			if r := e.raw(m, mpu+target, "x"); r.status >= 500 {
				t.Errorf("%s %s: %d %s", m, target, r.status, r.body)
			}
		}
	}
}

// TestMultipartLogsHideUploadID: part urls carry a capability, which the
// request log must not.
func TestMultipartLogsHideUploadID(t *testing.T) {
	var buf syncBuffer
	e := newEnv(t, func(c *Config) {
		c.LogRequests = true
		c.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	})
	run := e.createRun("0")
	r := e.do("POST", mpu+"/create/0/"+run+"/artifacts", `{"path":"a.bin","num_parts":1}`)
	var up struct {
		UploadID string `json:"upload_id"`
	}
	json.Unmarshal([]byte(r.body), &up)
	e.do("PUT", mpu+"/part/"+up.UploadID+"/1", "x")
	e.do("PUT", mpu+"/part/"+up.UploadID+"/9", "x")
	e.do("GET", mpu+"/part/"+up.UploadID+"/1", "")
	log := buf.String()
	if strings.Contains(log, up.UploadID) || !strings.Contains(log, "mpu/part/<upload_id>/1") {
		t.Fatalf("log:\n%s", log)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServerInfo(t *testing.T) {
	e := newEnv(t)
	want := `{"store_type":null,"workspaces_enabled":false,"trace_archival_enabled":false,"multipart_uploads_enabled":true,"multipart_downloads_enabled":false}`
	for _, p := range []string{"/api/3.0/mlflow/server-info", "/ajax-api/3.0/mlflow/server-info"} {
		r := e.do("GET", p, "")
		if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %s", p, r.status, r.body)
		}
		wantJSON(t, r.body, want)
	}
	wantError(t, e.do("POST", "/api/3.0/mlflow/server-info", `{}`), 404, "ENDPOINT_NOT_FOUND")
	wantError(t, e.do("GET", "/api/3.0/mlflow/server-info/x", ""), 404, "ENDPOINT_NOT_FOUND")
	e.s.cfg.ReadOnly = true
	wantJSON(t, e.do("GET", "/api/3.0/mlflow/server-info", "").body, strings.Replace(want, `"multipart_uploads_enabled":true`, `"multipart_uploads_enabled":false`, 1))
}
