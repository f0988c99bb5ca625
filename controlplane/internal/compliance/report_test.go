package compliance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/translate"
)

// Evidence sources as the collectors of other packages hand them over.
type (
	meshOf     struct{ m *mesh.Mesh }
	snapshotOf map[string]*translate.Resources
	adminOf    AdminAuthEvidence
	registryOf []VersionEvidence
	rolloutsOf RolloutEvidence
	keysOf     KeyEvidence
	consentOf  ConsentEvidence
	decisionOf DecisionLogEvidence
	breakGlass BreakGlassEvidence
	failing    struct{ err error }
)

func (s meshOf) Mesh() *mesh.Mesh                                               { return s.m }
func (s snapshotOf) Published() map[string]*translate.Resources                 { return s }
func (s adminOf) AdminAuth() AdminAuthEvidence                                  { return AdminAuthEvidence(s) }
func (s registryOf) VersionEvidence(context.Context) ([]VersionEvidence, error) { return s, nil }
func (s rolloutsOf) RolloutEvidence(context.Context) (RolloutEvidence, error) {
	return RolloutEvidence(s), nil
}
func (s keysOf) KeyEvidence(context.Context) (KeyEvidence, error) { return KeyEvidence(s), nil }
func (s consentOf) ConsentEvidence(context.Context) (ConsentEvidence, error) {
	return ConsentEvidence(s), nil
}
func (s decisionOf) DecisionLogEvidence(context.Context) (DecisionLogEvidence, error) {
	return DecisionLogEvidence(s), nil
}
func (s breakGlass) BreakGlassEvidence(context.Context) (BreakGlassEvidence, error) {
	return BreakGlassEvidence(s), nil
}
func (f failing) KeyEvidence(context.Context) (KeyEvidence, error) { return KeyEvidence{}, f.err }
func (f failing) AuditEvidence(context.Context) (AuditEvidence, error) {
	return AuditEvidence{}, f.err
}

// liveSources are every source, over the full test mesh's real
// translation and a real audit store; some evidence fails on purpose so a
// report carries violations.
func liveSources(t *testing.T) Sources {
	t.Helper()
	m, err := mesh.LoadFile("../translate/testdata/full.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	all, err := translate.Translate(m)
	if err != nil {
		t.Fatal(err)
	}
	_, log := auditFixture(t, 3)
	return Sources{
		Mesh: meshOf{m}, Snapshot: snapshotOf(all), Audit: log,
		AdminAuth: adminOf{Address: "127.0.0.1:18080"},
		Registry: registryOf{
			{Model: "chat", Version: "v2", State: mesh.StateServing, Weight: 100, Verified: true, Validated: true},
			{Model: "scoring", Version: "2026-10", State: mesh.StateServing, Weight: 50},
		},
		Rollouts:    rolloutsOf{MetricSource: "http://127.0.0.1:9090"},
		Keys:        keysOf(keyEvidence()),
		Consent:     consentOf{Purposes: []Purpose{{Name: "triage", Health: true}}, Pushed: now, MaxStaleness: time.Second},
		DecisionLog: decisionOf{Masks: RequiredMasks()},
		BreakGlass:  breakGlass{ReviewWithin: 24 * time.Hour},
	}
}

func clock() time.Time { return now }

func TestEvaluateWithoutSourcesIsNeverSatisfied(t *testing.T) {
	for _, f := range Frameworks() {
		rep := Evaluate(context.Background(), f, Sources{}, clock)
		if len(rep.Findings) == 0 {
			t.Fatalf("%s: no findings", f)
		}
		for _, fd := range rep.Findings {
			if fd.Status != NotSatisfied || !strings.HasPrefix(fd.Summary, "cannot be evaluated: no ") {
				t.Errorf("%s %s: %s %q", f, fd.CheckID, fd.Status, fd.Summary)
			}
			if len(fd.Remediation) == 0 {
				t.Errorf("%s %s has no remediation", f, fd.CheckID)
			}
		}
	}
	rep := Evaluate(context.Background(), GDPR, Sources{}, clock)
	byID := map[string]Finding{}
	for _, fd := range rep.Findings {
		byID[fd.CheckID] = fd
	}
	if got := byID["dek-retention"].Summary; got != "cannot be evaluated: no key manager configured" {
		t.Errorf("dek-retention: %q", got)
	}
}

func TestEvaluateFailingSource(t *testing.T) {
	boom := errors.New("vault: connection refused")
	rep := Evaluate(context.Background(), HIPAA, Sources{Keys: failing{boom}, Audit: failing{boom}}, clock)
	for _, fd := range rep.Findings {
		if fd.CheckID == "key-rotation-age" || fd.CheckID == "audit-log-checkpoint" {
			if fd.Status != NotSatisfied || !strings.Contains(fd.Summary, "vault: connection refused") {
				t.Errorf("%s: %s %q", fd.CheckID, fd.Status, fd.Summary)
			}
		}
	}
}

func TestEvaluateLive(t *testing.T) {
	rep := Evaluate(context.Background(), HIPAA, liveSources(t), clock)
	status := map[string]Status{}
	for _, fd := range rep.Findings {
		status[fd.CheckID] = fd.Status
		for _, c := range fd.Controls {
			if c.Framework != HIPAA {
				t.Errorf("%s carries %s in a HIPAA report", fd.CheckID, c)
			}
		}
	}
	want := map[string]Status{
		"mtls-every-hop": Satisfied, "ext-authz-fail-closed": Satisfied, "pii-filter-fail-closed": Satisfied,
		"audit-log-checkpoint": Satisfied, "key-rotation-age": Satisfied, "decision-log-masked": Satisfied, "break-glass-reviewed": Satisfied,
		"pii-health-classes": NotSatisfied, "admin-oidc": NotSatisfied, "model-versions-verified": NotSatisfied,
	}
	for id, st := range want {
		if status[id] != st {
			t.Errorf("%s: %s, want %s", id, status[id], st)
		}
	}
	if _, ok := status["consent-health-purposes"]; ok {
		t.Error("the consent check maps to no HIPAA control but is in the HIPAA report")
	}
	if rep := Evaluate(context.Background(), GDPR, liveSources(t), clock); !hasFinding(rep, "consent-health-purposes", NotSatisfied) {
		t.Error("GDPR report lacks the failing consent check")
	}
}

func hasFinding(r Report, id string, st Status) bool {
	for _, f := range r.Findings {
		if f.CheckID == id && f.Status == st {
			return true
		}
	}
	return false
}

func TestControlTokens(t *testing.T) {
	for _, c := range []struct {
		c    Control
		want string
	}{
		{Control{HIPAA, "164.312(a)(2)(iv)"}, "hipaa-164.312-a-2-iv"},
		{Control{GDPR, "Art. 5(1)(e)"}, "gdpr-art-5-1-e"},
		{Control{SOC2, "CC6.1"}, "soc2-cc6.1"},
		{Control{ISO27001, "A.8.24"}, "iso27001-a.8.24"},
	} {
		if got := c.c.Token(); got != c.want {
			t.Errorf("%v: %q, want %q", c.c, got, c.want)
		}
	}
}

func TestCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Catalogue() {
		if seen[c.ID] {
			t.Errorf("duplicate check %s", c.ID)
		}
		seen[c.ID] = true
		if c.eval == nil || c.Title == "" || c.Description == "" || len(c.Remediation) == 0 || len(c.Controls) == 0 || c.Source == "" {
			t.Errorf("check %s is incomplete", c.ID)
		}
		if c.Method != MethodTest && c.Method != MethodExamine {
			t.Errorf("check %s: method %q", c.ID, c.Method)
		}
	}
	for _, f := range Frameworks() {
		n := 0
		for _, c := range Catalogue() {
			if c.Maps(f) {
				n++
			}
		}
		if n < 3 {
			t.Errorf("%s: only %d checks", f, n)
		}
	}
	want := map[Framework][]string{
		HIPAA:    {"164.312(a)(1)", "164.312(b)", "164.312(c)(1)", "164.312(d)", "164.312(e)(1)"},
		GDPR:     {"Art. 5(1)(e)", "Art. 5(2)", "Art. 6(1)(a)", "Art. 7", "Art. 17", "Art. 25", "Art. 30", "Art. 32"},
		SOC2:     {"CC6.1", "CC7.2", "CC8.1"},
		ISO27001: {"A.8.15", "A.8.24"},
	}
	for f, ids := range want {
		for _, id := range ids {
			found := false
			for _, c := range Catalogue() {
				for _, x := range c.ControlsOf(f) {
					found = found || x.ID == id
				}
			}
			if !found {
				t.Errorf("no check maps to %s %s", f, id)
			}
		}
	}
}

func TestParse(t *testing.T) {
	if f, err := ParseFramework("HIPAA"); err != nil || f != HIPAA {
		t.Errorf("HIPAA: %v %v", f, err)
	}
	if _, err := ParseFramework("pci"); err == nil || !strings.Contains(err.Error(), "hipaa, gdpr, soc2, iso27001") {
		t.Errorf("pci: %v", err)
	}
	if _, err := ParseFormat("pdf"); err == nil || !strings.Contains(err.Error(), "oscal, md, html") {
		t.Errorf("pdf: %v", err)
	}
}

// repoRoot walks up from the test's directory to the workspace root.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.work above %s", dir)
		}
	}
}

// oscalSchema compiles NIST's assessment-results schema from ../shared
// beside the repository. Its draft-07 definitions put "$id": "#anchor"
// beside "$ref", which draft-07 ignores; each is rewritten to wrap the
// $ref in allOf so the anchor is found (shared/oscal/README.md).
func oscalSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	path := filepath.Join(repoRoot(t), "..", "shared", "oscal", "oscal_assessment-results_schema.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the OSCAL schema is expected at %s (the repository is cloned with shared/ beside it): %v", path, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var rewrite func(v any)
	rewrite = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if id, ok := x["$id"].(string); ok && strings.HasPrefix(id, "#") {
				if ref, ok := x["$ref"]; ok {
					delete(x, "$ref")
					x["allOf"] = []any{map[string]any{"$ref": ref}}
				}
			}
			for _, c := range x {
				rewrite(c)
			}
		case []any:
			for _, c := range x {
				rewrite(c)
			}
		}
	}
	rewrite(doc)
	id := doc.(map[string]any)["$id"].(string)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(id, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOSCALValidatesAgainstNISTSchema(t *testing.T) {
	schema := oscalSchema(t)
	for _, f := range Frameworks() {
		for name, src := range map[string]Sources{"live": liveSources(t), "no sources": {}} {
			t.Run(string(f)+"/"+name, func(t *testing.T) {
				rep := Evaluate(context.Background(), f, src, clock)
				out, err := OSCAL(rep)
				if err != nil {
					t.Fatal(err)
				}
				doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
				if err != nil {
					t.Fatal(err)
				}
				if err := schema.Validate(doc); err != nil {
					t.Fatalf("does not validate: %v", err)
				}
				var ar struct {
					AR struct {
						Results []struct {
							Findings []struct {
								Target struct {
									TargetID string `json:"target-id"`
									Status   struct{ State string }
								}
								RelatedRisks []struct {
									RiskUUID string `json:"risk-uuid"`
								} `json:"related-risks"`
							}
							Observations []struct{ Methods []string }
							Risks        []struct {
								UUID         string
								Remediations []struct{ Description string }
							}
						}
					} `json:"assessment-results"`
				}
				if err := json.Unmarshal(out, &ar); err != nil {
					t.Fatal(err)
				}
				res := ar.AR.Results[0]
				_, not := rep.Counts()
				if len(res.Observations) != len(rep.Findings) || len(res.Risks) != not {
					t.Fatalf("%d observations, %d risks for %d findings (%d not satisfied)", len(res.Observations), len(res.Risks), len(rep.Findings), not)
				}
				risks := map[string]bool{}
				for _, r := range res.Risks {
					risks[r.UUID] = true
					if len(r.Remediations) == 0 {
						t.Error("a risk without remediation")
					}
				}
				for _, fd := range res.Findings {
					if !strings.HasPrefix(fd.Target.TargetID, string(f)+"-") {
						t.Errorf("finding target %s outside %s", fd.Target.TargetID, f)
					}
					if (fd.Target.Status.State == "not-satisfied") != (len(fd.RelatedRisks) == 1 && risks[fd.RelatedRisks[0].RiskUUID]) {
						t.Errorf("finding %s (%s) and its risk disagree", fd.Target.TargetID, fd.Target.Status.State)
					}
				}
			})
		}
	}
	// The schema is strict: a broken document must fail, or the test
	// above proves nothing.
	out, _ := OSCAL(Evaluate(context.Background(), SOC2, Sources{}, clock))
	broken := bytes.Replace(out, []byte(`"state": "not-satisfied"`), []byte(`"state": "unknown"`), 1)
	doc, _ := jsonschema.UnmarshalJSON(bytes.NewReader(broken))
	if schema.Validate(doc) == nil {
		t.Fatal("a finding with state unknown validates")
	}
}

func TestMarkdown(t *testing.T) {
	rep := Evaluate(context.Background(), GDPR, liveSources(t), clock)
	out, err := Markdown(rep)
	if err != nil {
		t.Fatal(err)
	}
	md := string(out)
	for _, fd := range rep.Findings {
		if !strings.Contains(md, "| `"+fd.CheckID+"` ") {
			t.Errorf("summary table lacks %s", fd.CheckID)
		}
	}
	for _, want := range []string{
		"# SecureAI Nexus compliance report: GDPR",
		"## Violations and remediation",
		"### `consent-health-purposes` Consent checked for every purpose that carries health data",
		"- purpose triage carries health data but its calls are not checked for consent",
		"1. Mark the purpose as consent-required",
		"Art. 6(1)(a), Art. 7",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	sat, not := rep.Counts()
	if !strings.Contains(md, "**"+itoa(sat)+" of "+itoa(sat+not)+" checks satisfied") {
		t.Error("markdown lacks the totals")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestHTMLIsSelfContained(t *testing.T) {
	rep := Evaluate(context.Background(), ISO27001, liveSources(t), clock)
	rep.Findings[0].Evidence = append(rep.Findings[0].Evidence, `<script>alert(1)</script>`)
	out, err := HTML(rep)
	if err != nil {
		t.Fatal(err)
	}
	page := string(out)
	for _, banned := range []string{"<script", "<link", "<img", "<iframe", "<object", "src=", "href=", "@import", "url("} {
		if strings.Contains(page, banned) {
			t.Errorf("the page contains %q", banned)
		}
	}
	if !strings.Contains(page, "&lt;script&gt;") {
		t.Error("evidence is not escaped")
	}
	if !strings.Contains(page, "<style>") || !strings.Contains(page, "not-satisfied") {
		t.Error("the page lacks its inline style or its findings")
	}
}

// FuzzParse: the framework and format come from a query string; any
// input is either a known value or an error naming the choices.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"hipaa", "GDPR", " soc2 ", "iso27001", "md", "html", "oscal", "", "pci", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if fw, err := ParseFramework(s); err == nil {
			if !strings.EqualFold(strings.TrimSpace(s), string(fw)) {
				t.Fatalf("%q parsed as %q", s, fw)
			}
		} else if !strings.Contains(err.Error(), "hipaa, gdpr, soc2, iso27001") {
			t.Fatalf("%q: %v", s, err)
		}
		if ft, err := ParseFormat(s); err == nil {
			if ft.ContentType() == "application/octet-stream" {
				t.Fatalf("%q parsed as %q", s, ft)
			}
		} else if !strings.Contains(err.Error(), "oscal, md, html") {
			t.Fatalf("%q: %v", s, err)
		}
	})
}
