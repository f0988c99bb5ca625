package decisionlog_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/plugins/logs"

	"github.com/secureai-nexus/nexus/authz/internal/decisionlog"
)

// goldenEntry is a denial with every field set, its input masked as the
// engine masks it.
func goldenEntry() decisionlog.Entry {
	m, _ := decisionlog.NewMasker(decisionlog.DefaultMasks())
	input := map[string]any{
		"attributes": map[string]any{"request": map[string]any{"http": map[string]any{
			"method":  "POST",
			"headers": map[string]any{"authorization": "Bearer secret", "x-api-key": nil},
			"body":    `{"prompt":"hi"}`,
		}}},
		"parsed_body": map[string]any{"prompt": "hi"},
	}
	masked := m.Mask(input)
	return decisionlog.Entry{
		Type: "decision", DecisionID: "4ca636c1-55e4-417a-b1d8-4aceb67960d1",
		Time:   time.Date(2026, 3, 1, 12, 30, 45, 123456789, time.FixedZone("CET", 3600)),
		Caller: "spiffe://nexus.local/ns/clinic/sa/frontdesk", Model: "triage", Version: "v2",
		Result: "deny", HTTPStatus: 403, Reason: "model <triage> needs purpose", PolicyRevision: "sha256:5a5b",
		Query: "data.envoy.authz.allow", EvalMicros: 42, Cached: true, Input: input,
		RawResult: map[string]any{"allowed": false, "http_status": json.Number("403"), "reason": "model <triage> needs purpose"},
		Labels:    map[string]string{"id": "1780d507-aea2-45cc-ae50-fa153c8e4a5a", "version": "0.9.0", "app": "clinic"},
		Bundles:   map[string]string{"authz": "sha256:5a5b"},
		Metrics:   map[string]int64{"timer_rego_query_eval_ns": 31000, "timer_server_handler_ns": 42310},
		Masked:    masked,
	}
}

// The golden lines: FormatNexus is the line Nexus has always written,
// FormatOPA the same decision as an OPA event. Both end in the chain.
const (
	goldenNexus = `{"type":"decision","decision_id":"4ca636c1-55e4-417a-b1d8-4aceb67960d1","time":"2026-03-01T12:30:45.123456789+01:00","caller":"spiffe://nexus.local/ns/clinic/sa/frontdesk","model":"triage","version":"v2","result":"deny","http_status":403,"reason":"model \u003ctriage\u003e needs purpose","policy_revision":"sha256:5a5b","query":"data.envoy.authz.allow","eval_us":42,"cached":true,"input":{"attributes":{"request":{"http":{"body":"**masked**","headers":{"authorization":"**masked**","x-api-key":null},"method":"POST"}}},"parsed_body":"**masked**"},"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","hash":"20420648b9b0b3c7dd36ffeec6fb7e92ea4908329272a489f24280a998891173"}` + "\n"
	goldenOPA   = `{"labels":{"app":"clinic","id":"1780d507-aea2-45cc-ae50-fa153c8e4a5a","version":"0.9.0"},"decision_id":"4ca636c1-55e4-417a-b1d8-4aceb67960d1","bundles":{"authz":{"revision":"sha256:5a5b"}},"path":"envoy/authz/allow","input":{"attributes":{"request":{"http":{"body":"**masked**","headers":{"authorization":"**masked**","x-api-key":null},"method":"POST"}}},"parsed_body":"**masked**"},"result":{"allowed":false,"http_status":403,"reason":"model \u003ctriage\u003e needs purpose"},"masked":["/input/attributes/request/http/body","/input/attributes/request/http/headers/authorization","/input/parsed_body"],"timestamp":"2026-03-01T11:30:45.123456789Z","metrics":{"timer_rego_query_eval_ns":31000,"timer_server_handler_ns":42310},"nexus_caller":"spiffe://nexus.local/ns/clinic/sa/frontdesk","nexus_model":"triage","nexus_version":"v2","nexus_result":"deny","nexus_http_status":403,"nexus_reason":"model \u003ctriage\u003e needs purpose","nexus_policy_revision":"sha256:5a5b","nexus_query":"data.envoy.authz.allow","nexus_eval_us":42,"nexus_cached":true,"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000","hash":"98e096bab62c214b9cb1fa618575b9e13336550860b79433416173b219d69443"}` + "\n"
)

func TestGoldenLines(t *testing.T) {
	for _, tt := range []struct {
		format decisionlog.Format
		want   string
	}{{decisionlog.FormatNexus, goldenNexus}, {decisionlog.FormatOPA, goldenOPA}} {
		t.Run(tt.format.String(), func(t *testing.T) {
			line, hash, err := tt.format.Seal(goldenEntry(), decisionlog.Genesis)
			if err != nil {
				t.Fatal(err)
			}
			if string(line) != tt.want {
				t.Errorf("line\n%s\nwant\n%s", line, tt.want)
			}
			if !strings.HasSuffix(string(line), `"hash":"`+hash+"\"}\n") {
				t.Errorf("hash %s is not the line's last field", hash)
			}
		})
	}
	if nexus, _, _ := decisionlog.Seal(goldenEntry(), decisionlog.Genesis); string(nexus) != goldenNexus {
		t.Error("Seal is not FormatNexus.Seal")
	}
}

// TestOPAReaderReadsLines: OPA's own event type reads a logged line, field
// for field, and the Nexus fields ride along beside it.
func TestOPAReaderReadsLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "decisions.log")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	l := decisionlog.New(f, "", 10, &counters{}, decisionlog.WithFormat(decisionlog.FormatOPA))
	want := goldenEntry()
	l.Log(want)
	undefined := decisionlog.Entry{DecisionID: "undefined", Time: want.Time, Result: "deny", Reason: "undefined_decision", Labels: want.Labels, EvalMicros: 7}
	l.Log(undefined)
	l.Close()
	f.Close()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}

	var ev logs.EventV1
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil {
		t.Fatalf("OPA's EventV1 does not read the line: %v", err)
	}
	if !maps.Equal(ev.Labels, want.Labels) || ev.DecisionID != want.DecisionID || ev.Path != "envoy/authz/allow" ||
		len(ev.Bundles) != 1 || ev.Bundles["authz"].Revision != "sha256:5a5b" {
		t.Errorf("event = %+v", ev)
	}
	if !ev.Timestamp.Equal(want.Time) || ev.Timestamp.Location() != time.UTC {
		t.Errorf("timestamp = %v, want %v in UTC", ev.Timestamp, want.Time)
	}
	if !slices.Equal(ev.Masked, want.Masked) || len(ev.Masked) != 3 || ev.Erased != nil {
		t.Errorf("masked = %v, erased = %v", ev.Masked, ev.Erased)
	}
	if ev.Input == nil || (*ev.Input).(map[string]any)["parsed_body"] != decisionlog.MaskMarker {
		t.Errorf("input = %v", ev.Input)
	}
	if ev.Result == nil || (*ev.Result).(map[string]any)["allowed"] != false {
		t.Errorf("result = %v", ev.Result)
	}
	if ev.Metrics["timer_rego_query_eval_ns"] != float64(31000) || ev.Metrics["timer_server_handler_ns"] != float64(42310) {
		t.Errorf("metrics = %v", ev.Metrics)
	}
	var extra map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &extra); err != nil {
		t.Fatal(err)
	}
	if extra["nexus_reason"] != want.Reason || extra["nexus_cached"] != true || extra["nexus_result"] != "deny" || extra["nexus_caller"] != want.Caller {
		t.Errorf("nexus fields = %v", extra)
	}

	// An undefined decision has no result; without the engine's timers
	// its whole time stands as the handler's.
	ev = logs.EventV1{}
	if err := json.Unmarshal([]byte(lines[1]), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Result != nil || ev.Metrics["timer_server_handler_ns"] != float64(7000) || ev.Path != "" || ev.Masked != nil {
		t.Errorf("undefined decision = %+v", ev)
	}

	v, err := decisionlog.Verify([]string{p}, open)
	if err != nil || v.Lines != 2 || v.Continues {
		t.Errorf("OPA-format log does not verify: %+v %v", v, err)
	}
}

// TestOPAGapRecord: lines lost to a full queue show in an OPA-format log as
// a gap record that still verifies, with the instance's labels.
func TestOPAGapRecord(t *testing.T) {
	w := &blockingWriter{release: make(chan struct{}), stuck: make(chan struct{})}
	c := &counters{}
	l := decisionlog.New(w, "", 1, c, decisionlog.WithFormat(decisionlog.FormatOPA))
	labels := map[string]string{"id": "i-1", "version": "0.9.0"}
	l.Log(decisionlog.Entry{DecisionID: "first", Labels: labels})
	<-w.stuck
	for range 5 {
		l.Log(decisionlog.Entry{DecisionID: "x", Labels: labels})
	}
	// The writer holds "first" and the queue one line: four were dropped.
	close(w.release)
	l.Close()

	var gaps int
	for line := range strings.Lines(w.buf.String()) {
		var ev struct {
			logs.EventV1
			Type    string `json:"nexus_type"`
			Dropped int64  `json:"nexus_dropped"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type == "gap" {
			gaps++
			if ev.Dropped != c.dropped.Load() || ev.DecisionID != "" || ev.Metrics != nil || !maps.Equal(ev.Labels, labels) {
				t.Errorf("gap record %s", line)
			}
		}
	}
	if gaps != 1 || c.dropped.Load() != 4 {
		t.Errorf("%d gap records for %d dropped lines", gaps, c.dropped.Load())
	}
	p := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(p, w.buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := decisionlog.Verify([]string{p}, open); err != nil {
		t.Errorf("OPA-format chain with a gap does not verify: %v", err)
	}
}

// TestTeeGetsTheSinksLines: the tee sees each line the sink gets, in order,
// without its newline.
func TestTeeGetsTheSinksLines(t *testing.T) {
	var sink bytes.Buffer
	var teed []string
	l := decisionlog.New(&sink, "", 100, &counters{}, decisionlog.WithFormat(decisionlog.FormatOPA),
		decisionlog.WithTee(func(line []byte) { teed = append(teed, string(line)) }))
	for i := range 20 {
		l.Log(bulkyEntry(fmt.Sprint(i), i*100))
	}
	l.Close()
	got := strings.Join(teed, "\n") + "\n"
	if len(teed) != 20 || got != sink.String() {
		t.Errorf("teed %d lines:\n%s\nsink:\n%s", len(teed), got, sink.String())
	}
}

func TestMaskReportsWhatItMasked(t *testing.T) {
	m, err := decisionlog.NewMasker([]string{"/input/z", "/input/a/b", "/input/a", "/input/absent", "/input/null", "/input/z"})
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]any{"a": map[string]any{"b": "inner"}, "z": 1, "null": nil}
	got := m.Mask(in)
	// /input/a hides /input/a/b, which is then no longer there to mask;
	// an absent or null value is not masked; /input/z is listed once.
	if want := []string{"/input/a", "/input/z"}; !slices.Equal(got, want) {
		t.Errorf("masked %v, want %v", got, want)
	}
	if in["a"] != decisionlog.MaskMarker || in["null"] != nil {
		t.Errorf("input = %v", in)
	}
	if got := m.Mask(map[string]any{"other": 1}); got != nil {
		t.Errorf("nothing to mask, reported %v", got)
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range []decisionlog.Format{decisionlog.FormatNexus, decisionlog.FormatOPA} {
		if got, err := decisionlog.ParseFormat(f.String()); err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %v, %v", f, got, err)
		}
	}
	if _, err := decisionlog.ParseFormat("json"); err == nil {
		t.Error("an unknown format was accepted")
	}
}
