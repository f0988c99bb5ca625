// Package compliance builds HIPAA, GDPR, SOC 2 and ISO 27001 reports from
// live evidence. One catalogue of checks, each mapped to the controls of
// every framework it serves (as the Compliance Operator annotates one rule
// with many frameworks), is evaluated against evidence sources: the served
// mesh, the published xDS snapshot, the audit log, the registry, the admin
// authentication and, once they exist, the key manager, the consent store,
// nexus-authz's decision log and the break-glass grants.
//
// Every source is optional. A check whose source is absent or fails is
// not satisfied, with the reason: evidence that cannot be collected proves
// nothing, so the report fails closed.
//
// Check logic is pure (evidence in, result out); collecting the evidence is
// the sources' business.
package compliance

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Framework is a compliance framework a report is filtered by.
type Framework string

const (
	HIPAA    Framework = "hipaa"
	GDPR     Framework = "gdpr"
	SOC2     Framework = "soc2"
	ISO27001 Framework = "iso27001"
)

// Frameworks are the frameworks reports can be made for, in report order.
func Frameworks() []Framework { return []Framework{HIPAA, GDPR, SOC2, ISO27001} }

// Title is the framework as people name it.
func (f Framework) Title() string {
	switch f {
	case HIPAA:
		return "HIPAA Security Rule, 45 CFR 164.312 (technical safeguards)"
	case GDPR:
		return "GDPR (Regulation (EU) 2016/679)"
	case SOC2:
		return "SOC 2 Trust Services Criteria (Common Criteria)"
	case ISO27001:
		return "ISO/IEC 27001:2022 Annex A"
	}
	return string(f)
}

// ParseFramework reads a framework name as the API and nexusctl take it.
func ParseFramework(s string) (Framework, error) {
	f := Framework(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(Frameworks(), f) {
		return f, nil
	}
	return "", fmt.Errorf("unknown framework %q: want one of hipaa, gdpr, soc2, iso27001", s)
}

// Control is one control (or requirement) of a framework, as the
// framework writes its identifier: "164.312(b)", "Art. 5(1)(e)",
// "CC6.1", "A.8.24".
type Control struct {
	Framework Framework
	ID        string
}

// Token is the control's identifier in OSCAL's token syntax (an XML
// NCName), which admits no parentheses or spaces: the framework prefix and
// the ID's letters and digits, e.g. "hipaa-164.312-a-2-iv".
func (c Control) Token() string {
	var b strings.Builder
	b.WriteString(string(c.Framework))
	dash := true
	for _, r := range strings.ToLower(c.ID) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.':
			if dash {
				b.WriteByte('-')
				dash = false
			}
			b.WriteRune(r)
		default:
			dash = true
		}
	}
	// A dot ends an abbreviation ("Art.") as often as it joins numbers.
	tok := strings.NewReplacer(".-", "-", "-.", "-").Replace(b.String())
	return strings.TrimSuffix(tok, ".")
}

// String is the control as a person reads it: "HIPAA 164.312(b)".
func (c Control) String() string {
	switch c.Framework {
	case HIPAA:
		return "HIPAA " + c.ID
	case GDPR:
		return "GDPR " + c.ID
	case SOC2:
		return "SOC 2 " + c.ID
	case ISO27001:
		return "ISO 27001 " + c.ID
	}
	return string(c.Framework) + " " + c.ID
}

// Method is how a check collects its evidence, in OSCAL's vocabulary:
// TEST exercises the mechanism (walks the served config, recomputes the
// Merkle root), EXAMINE reads configuration or records.
type Method string

const (
	MethodTest    Method = "TEST"
	MethodExamine Method = "EXAMINE"
)

// Status is a finding's outcome, as OSCAL names it.
type Status string

const (
	Satisfied    Status = "satisfied"
	NotSatisfied Status = "not-satisfied"
)

// Result is what a check made of its evidence.
type Result struct {
	Satisfied bool
	// Summary says in one line what was found.
	Summary string
	// Evidence lists what was looked at, one fact per line; it never holds
	// personal data.
	Evidence []string
	// Violations name each thing that failed and where.
	Violations []string
	// Unevaluated is set when the evidence could not be had; Summary then
	// says why.
	Unevaluated bool
}

// unevaluated is the result of a check whose evidence is missing.
func unevaluated(format string, args ...any) Result {
	return Result{Unevaluated: true, Summary: "cannot be evaluated: " + fmt.Sprintf(format, args...)}
}

// Check is one entry of the catalogue.
type Check struct {
	ID          string
	Title       string
	Description string
	Method      Method
	// Source names the evidence source, for the report.
	Source   string
	Controls []Control
	// Remediation are the steps that fix a violation, in order.
	Remediation []string
	eval        func(ctx context.Context, s Sources, now time.Time) Result
}

// Maps says whether the check serves framework f.
func (c Check) Maps(f Framework) bool {
	return slices.ContainsFunc(c.Controls, func(x Control) bool { return x.Framework == f })
}

// ControlsOf are the check's controls in framework f.
func (c Check) ControlsOf(f Framework) []Control {
	var out []Control
	for _, x := range c.Controls {
		if x.Framework == f {
			out = append(out, x)
		}
	}
	return out
}

// Finding is one check's outcome in a report.
type Finding struct {
	CheckID     string
	Title       string
	Description string
	Method      Method
	Source      string
	Controls    []Control
	Status      Status
	Summary     string
	Evidence    []string
	Violations  []string
	Remediation []string
	Collected   time.Time
}

// Report is a framework's findings at one time.
type Report struct {
	Framework Framework
	Generated time.Time
	Findings  []Finding
}

// Counts returns how many findings are satisfied and not.
func (r Report) Counts() (satisfied, notSatisfied int) {
	for _, f := range r.Findings {
		if f.Status == Satisfied {
			satisfied++
		} else {
			notSatisfied++
		}
	}
	return satisfied, notSatisfied
}

// Violations are the findings that are not satisfied.
func (r Report) Violations() []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Status != Satisfied {
			out = append(out, f)
		}
	}
	return out
}

// Evaluate runs every check of the catalogue that maps to framework f
// against the sources, at now.
func Evaluate(ctx context.Context, f Framework, s Sources, now func() time.Time) Report {
	rep := Report{Framework: f, Generated: now().UTC()}
	for _, c := range Catalogue() {
		if !c.Maps(f) {
			continue
		}
		at := now().UTC()
		res := c.eval(ctx, s, at)
		st := NotSatisfied
		if res.Satisfied && !res.Unevaluated && len(res.Violations) == 0 {
			st = Satisfied
		}
		rep.Findings = append(rep.Findings, Finding{
			CheckID: c.ID, Title: c.Title, Description: c.Description, Method: c.Method, Source: c.Source,
			Controls: c.ControlsOf(f), Status: st, Summary: res.Summary,
			Evidence: res.Evidence, Violations: res.Violations, Remediation: c.Remediation, Collected: at,
		})
	}
	return rep
}
