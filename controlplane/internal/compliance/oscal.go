package compliance

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// OSCALVersion is the OSCAL model version the assessment results are
// written against (NIST's schema in shared/oscal).
const OSCALVersion = "1.0.6"

// The structs below are the subset of OSCAL Assessment Results that Nexus
// writes; field names follow the JSON model exactly.

type oscalDoc struct {
	AssessmentResults oscalAR `json:"assessment-results"`
}

type oscalAR struct {
	UUID     string        `json:"uuid"`
	Metadata oscalMetadata `json:"metadata"`
	ImportAP oscalImportAP `json:"import-ap"`
	Results  []oscalResult `json:"results"`
}

type oscalMetadata struct {
	Title        string      `json:"title"`
	LastModified string      `json:"last-modified"`
	Version      string      `json:"version"`
	OSCALVersion string      `json:"oscal-version"`
	Props        []oscalProp `json:"props,omitempty"`
}

type oscalImportAP struct {
	Href    string `json:"href"`
	Remarks string `json:"remarks,omitempty"`
}

type oscalProp struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	NS    string `json:"ns,omitempty"`
}

type oscalResult struct {
	UUID             string             `json:"uuid"`
	Title            string             `json:"title"`
	Description      string             `json:"description"`
	Start            string             `json:"start"`
	End              string             `json:"end"`
	ReviewedControls oscalReviewed      `json:"reviewed-controls"`
	Observations     []oscalObservation `json:"observations,omitempty"`
	Risks            []oscalRisk        `json:"risks,omitempty"`
	Findings         []oscalFinding     `json:"findings,omitempty"`
}

type oscalReviewed struct {
	ControlSelections []oscalSelection `json:"control-selections"`
}

type oscalSelection struct {
	Description     string          `json:"description,omitempty"`
	IncludeControls []oscalSelectID `json:"include-controls"`
}

type oscalSelectID struct {
	ControlID string `json:"control-id"`
}

type oscalObservation struct {
	UUID             string          `json:"uuid"`
	Title            string          `json:"title"`
	Description      string          `json:"description"`
	Props            []oscalProp     `json:"props,omitempty"`
	Methods          []string        `json:"methods"`
	Types            []string        `json:"types,omitempty"`
	RelevantEvidence []oscalEvidence `json:"relevant-evidence,omitempty"`
	Collected        string          `json:"collected"`
}

type oscalEvidence struct {
	Description string `json:"description"`
}

type oscalRisk struct {
	UUID         string        `json:"uuid"`
	Title        string        `json:"title"`
	Description  string        `json:"description"`
	Statement    string        `json:"statement"`
	Status       string        `json:"status"`
	Remediations []oscalRemedy `json:"remediations,omitempty"`
	Related      []oscalRelObs `json:"related-observations,omitempty"`
}

type oscalRemedy struct {
	UUID        string `json:"uuid"`
	Lifecycle   string `json:"lifecycle"`
	Title       string `json:"title"`
	Description string `json:"description"`
}

type oscalRelObs struct {
	ObservationUUID string `json:"observation-uuid"`
}

type oscalRelRisk struct {
	RiskUUID string `json:"risk-uuid"`
}

type oscalFinding struct {
	UUID         string         `json:"uuid"`
	Title        string         `json:"title"`
	Description  string         `json:"description"`
	Props        []oscalProp    `json:"props,omitempty"`
	Target       oscalTarget    `json:"target"`
	RelatedObs   []oscalRelObs  `json:"related-observations,omitempty"`
	RelatedRisks []oscalRelRisk `json:"related-risks,omitempty"`
}

type oscalTarget struct {
	Type     string      `json:"type"`
	TargetID string      `json:"target-id"`
	Title    string      `json:"title,omitempty"`
	Status   oscalStatus `json:"status"`
}

type oscalStatus struct {
	State   string `json:"state"`
	Reason  string `json:"reason,omitempty"`
	Remarks string `json:"remarks,omitempty"`
}

// nexusNS qualifies the properties Nexus adds.
const nexusNS = "https://secureai-nexus.dev/ns/oscal"

// OSCAL writes the report as OSCAL Assessment Results JSON: one
// observation per check (its evidence), one finding per check and control
// (the control as the objective, its status), and for each check not
// satisfied a risk with the remediation steps.
func OSCAL(r Report) ([]byte, error) {
	ts := stamp(r.Generated)
	res := oscalResult{
		UUID:        uuid4(),
		Title:       "Nexus " + r.Framework.Title() + " assessment",
		Description: "Live evaluation of the SecureAI Nexus compliance catalogue against the running control plane's evidence. A check that cannot be evaluated is not satisfied.",
		Start:       ts, End: ts,
	}
	var all []Control
	for _, f := range r.Findings {
		obs := oscalObservation{
			UUID: uuid4(), Title: f.Title, Description: f.Summary,
			Props:     []oscalProp{{Name: "check-id", Value: f.CheckID, NS: nexusNS}, {Name: "evidence-source", Value: nonEmpty(f.Source), NS: nexusNS}},
			Methods:   []string{string(f.Method)},
			Types:     []string{observationType(f)},
			Collected: stamp(f.Collected),
		}
		for _, e := range f.Evidence {
			obs.RelevantEvidence = append(obs.RelevantEvidence, oscalEvidence{Description: e})
		}
		for _, v := range f.Violations {
			obs.RelevantEvidence = append(obs.RelevantEvidence, oscalEvidence{Description: "violation: " + v})
		}
		res.Observations = append(res.Observations, obs)
		var riskUUID string
		if f.Status != Satisfied {
			risk := oscalRisk{
				UUID: uuid4(), Title: "Not satisfied: " + f.Title, Description: f.Description,
				Statement: statement(f), Status: "open",
				Related: []oscalRelObs{{ObservationUUID: obs.UUID}},
			}
			for i, step := range f.Remediation {
				risk.Remediations = append(risk.Remediations, oscalRemedy{
					UUID: uuid4(), Lifecycle: "recommendation", Title: fmt.Sprintf("Step %d", i+1), Description: step,
				})
			}
			riskUUID = risk.UUID
			res.Risks = append(res.Risks, risk)
		}
		for _, c := range f.Controls {
			all = append(all, c)
			fd := oscalFinding{
				UUID: uuid4(), Title: c.String() + ": " + f.Title, Description: f.Summary,
				Props: []oscalProp{{Name: "check-id", Value: f.CheckID, NS: nexusNS}, {Name: "control", Value: c.String(), NS: nexusNS}},
				Target: oscalTarget{
					Type: "objective-id", TargetID: c.Token(), Title: c.String(),
					Status: oscalStatus{State: string(f.Status), Reason: reason(f.Status), Remarks: f.Summary},
				},
				RelatedObs: []oscalRelObs{{ObservationUUID: obs.UUID}},
			}
			if riskUUID != "" {
				fd.RelatedRisks = []oscalRelRisk{{RiskUUID: riskUUID}}
			}
			res.Findings = append(res.Findings, fd)
		}
	}
	sel := oscalSelection{Description: "The " + r.Framework.Title() + " controls the Nexus catalogue maps checks to."}
	seen := map[string]bool{}
	slices.SortFunc(all, func(a, b Control) int { return strings.Compare(a.Token(), b.Token()) })
	for _, c := range all {
		if !seen[c.Token()] {
			seen[c.Token()] = true
			sel.IncludeControls = append(sel.IncludeControls, oscalSelectID{ControlID: c.Token()})
		}
	}
	if len(sel.IncludeControls) == 0 {
		return nil, fmt.Errorf("framework %s: no check maps to it", r.Framework)
	}
	res.ReviewedControls.ControlSelections = []oscalSelection{sel}
	sat, not := r.Counts()
	doc := oscalDoc{AssessmentResults: oscalAR{
		UUID: uuid4(),
		Metadata: oscalMetadata{
			Title:        "SecureAI Nexus compliance report: " + r.Framework.Title(),
			LastModified: ts, Version: ts, OSCALVersion: OSCALVersion,
			Props: []oscalProp{
				{Name: "framework", Value: string(r.Framework), NS: nexusNS},
				{Name: "satisfied", Value: fmt.Sprint(sat), NS: nexusNS},
				{Name: "not-satisfied", Value: fmt.Sprint(not), NS: nexusNS},
			},
		},
		ImportAP: oscalImportAP{
			Href:    "#nexus-compliance-catalogue-" + string(r.Framework),
			Remarks: "The assessment plan is the Nexus compliance catalogue (docs/compliance.md): every check, its evidence source and its controls.",
		},
		Results: []oscalResult{res},
	}}
	return json.MarshalIndent(doc, "", "  ")
}

func observationType(f Finding) string {
	if f.Status == Satisfied {
		return "control-objective"
	}
	return "finding"
}

func reason(s Status) string {
	if s == Satisfied {
		return "pass"
	}
	return "fail"
}

func statement(f Finding) string {
	if len(f.Violations) == 0 {
		return f.Summary
	}
	return f.Summary + ": " + strings.Join(f.Violations, "; ")
}

func nonEmpty(s string) string {
	if strings.TrimSpace(s) == "" {
		return "unknown"
	}
	return strings.TrimSpace(s)
}

// stamp is an RFC 3339 time with a zone, as OSCAL requires.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// uuid4 is a random (version 4) UUID.
func uuid4() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
