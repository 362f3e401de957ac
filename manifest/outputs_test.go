package manifest

import (
	"strings"
	"testing"
)

func TestRunOutputsValidation(t *testing.T) {
	base := func() *Run {
		return &Run{Header: Header{APIVersion, KindRun}, ID: goldenRunID, ExperimentID: "0", Status: StatusRunning, LifecycleStage: LifecycleActive}
	}
	const m = "m-0123456789abcdef0123456789abcdef"
	r := base()
	r.Outputs = []ModelOutput{{ModelID: m, Step: 0}, {ModelID: m, Step: 2}}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	back, err := DecodeRun(r.Encode())
	if err != nil || len(back.Outputs) != 2 || back.Outputs[1] != (ModelOutput{m, 2}) {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	for _, tc := range []struct {
		outs []ModelOutput
		want string
	}{
		{[]ModelOutput{{ModelID: "m-xyz", Step: 0}}, "is not m- and 32"},
		{[]ModelOutput{{ModelID: m, Step: -1}}, "must not be negative"},
		{[]ModelOutput{{ModelID: m, Step: 1}, {ModelID: m, Step: 1}}, "listed twice"},
	} {
		r := base()
		r.Outputs = tc.outs
		if err := r.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.outs, err, tc.want)
		}
	}
	// Unknown fields inside an output are refused by the strict decoder.
	bad := strings.Replace(string(r.Encode()), "lifecycleStage: active\n", "lifecycleStage: active\noutputs:\n  - modelId: "+m+"\n    step: 0\n    extra: 1\n", 1)
	if _, err := DecodeRun([]byte(bad)); err == nil {
		t.Fatal("an unknown field in outputs was accepted")
	}
}
