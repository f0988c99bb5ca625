package piiguard_test

import (
	"strings"
	"testing"

	"github.com/secureai-nexus/nexus/filters/piiguard"
)

// TestMetrics reads the filter's counters from the emulator's metric
// store, natively and from the compiled .wasm through its
// proxy_define_metric and proxy_increment_metric imports.
func TestMetrics(t *testing.T) {
	for _, runner := range runners {
		t.Run(runner, func(t *testing.T) {
			host, _ := newHost(t, runner, config)
			send := func(body string) {
				id := host.InitializeHttpContext()
				host.CallOnRequestHeaders(id, chatHeaders, false)
				host.CallOnRequestBody(id, []byte(body), true)
				host.CompleteHttpContext(id)
			}
			send(`{"model":"triage","messages":[{"role":"user","content":"I am jane@example.com and bob@example.org, SSN 123-45-6789"}]}`)
			send(`{"model":"triage","messages":[{"role":"user","content":"charge 4111 1111 1111 1111"}]}`)
			send(`{"model":"triage","messages":[{"role":"user","content":"nothing personal"}]}`)
			for name, want := range map[string]uint64{
				piiguard.MetricScanned:                    3,
				piiguard.MetricBlocked:                    1,
				piiguard.MetricFindingsBy + "EMAIL":       2,
				piiguard.MetricFindingsBy + "US_SSN":      1,
				piiguard.MetricFindingsBy + "CREDIT_CARD": 1,
				piiguard.MetricActionsBy + "tokenize":     2,
				piiguard.MetricActionsBy + "redact":       1,
				piiguard.MetricActionsBy + "block":        1,
			} {
				got, err := host.GetCounterMetric(name)
				if err != nil || got != want {
					t.Errorf("%s = %d (%v), want %d", name, got, err, want)
				}
			}
			if _, err := host.GetCounterMetric(piiguard.MetricOversize); err == nil {
				t.Error("oversize counted without an oversize body")
			}
		})
	}
	t.Run("oversize", func(t *testing.T) {
		host, _ := newHost(t, "wasm", `{"max_body_bytes": 64}`)
		id := host.InitializeHttpContext()
		host.CallOnRequestHeaders(id, chatHeaders, false)
		host.CallOnRequestBody(id, []byte(strings.Repeat("a", 100)), true)
		if got, err := host.GetCounterMetric(piiguard.MetricOversize); err != nil || got != 1 {
			t.Errorf("oversize = %d (%v), want 1", got, err)
		}
	})
}

// TestAnswerLeaks: an answer holding personal data the caller did not
// send is counted against the version that answered (the route's
// x-nexus-model-version), the caller's own values and tokens are not, and
// a streamed answer is scanned across its events.
func TestAnswerLeaks(t *testing.T) {
	for _, runner := range runners {
		t.Run(runner, func(t *testing.T) {
			host, _ := newHost(t, runner, `{"model":"triage","modes":{"EMAIL":"tokenize"}}`)
			call := func(version, ct string, answer ...string) {
				id := host.InitializeHttpContext()
				host.CallOnRequestHeaders(id, chatHeaders, false)
				host.CallOnRequestBody(id, []byte(`{"model":"triage","messages":[{"role":"user","content":"I am jane@example.com"}]}`), true)
				host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}, {"content-type", ct}, {"x-nexus-model-version", version}}, false)
				for i, chunk := range answer {
					host.CallOnResponseBody(id, []byte(chunk), i == len(answer)-1)
				}
				host.CompleteHttpContext(id)
			}
			call("v1", "application/json", `{"choices":[{"message":{"content":"Hello [EMAIL_1]"}}]}`)
			call("v1", "application/json", `{"choices":[{"message":{"content":"I remember jane@example.com"}}]}`)
			call("v2", "application/json", `{"choices":[{"message":{"content":"Ask `, `john.smith@hospital.org"}}]}`)
			call("v2", "text/event-stream",
				`data: {"choices":[{"delta":{"content":"mail bo"}}]}`+"\n\n",
				`data: {"choices":[{"delta":{"content":"b@clinic.org"}}]}`+"\n\ndata: [DONE]\n\n")
			call("v2.1.0", "application/json", `{"choices":[{"message":{"content":"nothing"}}]}`)
			call("bad version!", "application/json", `{"choices":[{"message":{"content":"x"}}]}`)
			for name, want := range map[string]uint64{
				piiguard.MetricAnswersScanned + ".model.triage.version.v1":      2,
				piiguard.MetricAnswersScanned + ".model.triage.version.v2":      2,
				piiguard.MetricAnswersLeaked + ".model.triage.version.v2":       2,
				piiguard.MetricAnswersScanned + ".model.triage.version.v2.1.0":  1,
				piiguard.MetricAnswersScanned + ".model.triage.version.unknown": 1,
				piiguard.MetricAnswerFindingBy + "EMAIL":                        2,
			} {
				got, err := host.GetCounterMetric(name)
				if err != nil || got != want {
					t.Errorf("%s = %d (%v), want %d", name, got, err, want)
				}
			}
			if _, err := host.GetCounterMetric(piiguard.MetricAnswersLeaked + ".model.triage.version.v1"); err == nil {
				t.Error("v1 echoed the caller's own data and a token: no leak")
			}
		})
	}
}
