package compat

import (
	"testing"
)

// TestGolden drives every fixture through nexus-authz under every run and
// compares each answer with what opa-envoy-plugin answered
// (testdata/expected/<run>.jsonl), reporting every difference.
func TestGolden(t *testing.T) {
	fixtures := mustFixtures(t)
	ta := newTally()
	// Cleanup, not a call at the end: it runs once the parallel runs are done.
	t.Cleanup(func() { ta.report(t) })
	for _, run := range mustRuns(t) {
		t.Run(run.Name, func(t *testing.T) {
			t.Parallel() // each run has its own nexus-authz, on its own ports
			want, err := LoadExpected(testdata, run.Name)
			if err != nil {
				t.Fatal(err)
			}
			n := startNexus(t, run)
			got := n.checkAll(t, fixtures)
			differs := false
			for i, f := range fixtures {
				w, ok := want[f.Name]
				if !ok {
					t.Errorf("%s [%s]: no expectation; regenerate testdata/expected with TestLive -update", f.Name, run.Name)
					continue
				}
				for _, d := range CompareOutcome(w, NormalizeNexus(got[i])) {
					differs = true
					ta.add(run.Name, f.Name, d)
					t.Errorf("%s [%s] %s", f.Name, run.Name, d)
				}
			}
			if differs {
				t.Logf("nexus-authz /readyz for %s: %s", run.Name, n.policyStatus())
			}
		})
	}
}

// TestInputGolden compares the input document nexus-authz builds for each
// fixture with the one opa-envoy-plugin built (testdata/expected/inputs.jsonl,
// from the probe run's decision log), reporting every difference.
func TestInputGolden(t *testing.T) {
	fixtures := mustFixtures(t)
	want, err := LoadExpectedInputs(testdata)
	if err != nil {
		t.Fatal(err)
	}
	var run Run
	for _, r := range mustRuns(t) {
		if r.Name == InputsRun {
			run = r
		}
	}
	if run.Name == "" {
		t.Fatalf("runs.json has no %s run", InputsRun)
	}
	n := startNexus(t, run)
	outcomes := n.checkAll(t, fixtures)
	got := n.inputs(t, fixtures, outcomes)
	ta := newTally()
	for i, f := range fixtures {
		w, ok := want[f.Name]
		if !ok {
			t.Errorf("%s: no expected input; regenerate testdata/expected with TestLive -update", f.Name)
			continue
		}
		for _, d := range CompareInput(w.Input, got[i].Input) {
			ta.add("input", f.Name, d)
			t.Errorf("%s [input] %s", f.Name, d)
		}
	}
	ta.report(t)
}
