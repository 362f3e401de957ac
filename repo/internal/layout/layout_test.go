package layout

import "testing"

func TestPaths(t *testing.T) {
	const run = "0123456789abcdef0123456789abcdef"
	for _, c := range []struct{ got, want string }{
		{Run(run), "runs/01/" + run + "/run.yaml"},
		{Segment(run, 7), "runs/01/" + run + "/metrics/000007.tsv"},
		{Experiment("0"), "experiments/0/experiment.yaml"},
		{Model("churn"), "models/churn/model.yaml"},
		{Version("churn", 12), "models/churn/versions/12.yaml"},
		{LoggedModel("m-" + run), "logged-models/01/m-" + run + "/model.yaml"},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
	if key, n, ok := ParseVersion(Version("a%2Fb", 3)); !ok || key != "a%2Fb" || n != 3 {
		t.Errorf("ParseVersion = %q %d %v", key, n, ok)
	}
	for _, p := range []string{"models/a/versions/03.yaml", "models/a/versions/x/1.yaml", "runs/a/versions/1.yaml", "models/a/versions/1.yml"} {
		if _, _, ok := ParseVersion(p); ok {
			t.Errorf("ParseVersion(%q) ok", p)
		}
	}
	if key, ok := ParseModel(Model("churn")); !ok || key != "churn" {
		t.Errorf("ParseModel = %q %v", key, ok)
	}
	if !IsSegment(Segment(run, 1)) || IsSegment("runs/01/"+run+"/metrics/.tsv") || IsSegment("runs/01/"+run+"/run.yaml") {
		t.Error("IsSegment")
	}
}
