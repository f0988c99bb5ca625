package compliance

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
)

// HealthClasses are the piiguard data classes that identify health data:
// record and plan numbers, clinician identifiers and national health
// insurance numbers. Every model must keep them from the model.
func HealthClasses() []string {
	return []string{
		"MEDICAL_RECORD_NUMBER", "HEALTH_PLAN_ID", "US_NPI", "MEDICAL_LICENSE",
		"UK_NHS", "DE_HEALTH_INSURANCE", "AU_MEDICARE",
	}
}

// protective modes keep a class's value from the model; report only
// records that it was seen.
var protective = []mesh.PIIMode{mesh.PIITokenize, mesh.PIIRedact, mesh.PIIHash, mesh.PIIBlock}

// checkPIIHealth requires every model's PII modes to keep every health
// class from the model.
func checkPIIHealth(m *mesh.Mesh) Result {
	var res Result
	for _, md := range m.Models {
		var modes []string
		for _, class := range HealthClasses() {
			mode, ok := md.PII[class]
			switch {
			case !ok:
				res.Violations = append(res.Violations, fmt.Sprintf("model %s: %s has no mode (passes to the model unchanged)", md.Name, class))
				modes = append(modes, class+"=none")
			case !slices.Contains(protective, mode):
				res.Violations = append(res.Violations, fmt.Sprintf("model %s: %s is %s (passes to the model unchanged)", md.Name, class, mode))
				modes = append(modes, class+"="+string(mode))
			default:
				modes = append(modes, class+"="+string(mode))
			}
		}
		res.Evidence = append(res.Evidence, fmt.Sprintf("model %s: %s", md.Name, strings.Join(modes, ", ")))
	}
	res.Satisfied = len(res.Violations) == 0
	res.Summary = fmt.Sprintf("%d models, %d health classes each; %d class settings let health data through", len(m.Models), len(HealthClasses()), len(res.Violations))
	if len(m.Models) == 0 {
		res.Summary = "the mesh serves no model"
	}
	return res
}

// checkAuditCheckpoint requires the audit chain to verify and the tree of
// its records to extend the last signed checkpoint, whose signature must
// verify with the log's key.
func checkAuditCheckpoint(e AuditEvidence) Result {
	var res Result
	res.Evidence = append(res.Evidence, fmt.Sprintf("hash chain: %d records, ok=%t", e.Chain.Records, e.Chain.OK))
	if !e.Chain.OK {
		res.Violations = append(res.Violations, fmt.Sprintf("the hash chain breaks at record %d: %s", e.Chain.BrokenAt, e.Chain.Reason))
	}
	if e.Size != e.Chain.Records && e.Chain.OK {
		res.Violations = append(res.Violations, fmt.Sprintf("the tree has %d leaves but the chain %d records", e.Size, e.Chain.Records))
	}
	if e.RootAt == nil {
		res.Violations = append(res.Violations, "the log's tree cannot be read")
		res.Summary = "the log's tree cannot be read"
		return res
	}
	root, err := e.RootAt(e.Size)
	if err != nil {
		res.Violations = append(res.Violations, "the log's tree cannot be read: "+err.Error())
		res.Summary = "the log's tree cannot be read"
		return res
	}
	res.Evidence = append(res.Evidence, fmt.Sprintf("tree: size %d, root %x", e.Size, root[:]))
	if len(e.Checkpoint) == 0 {
		res.Violations = append(res.Violations, "no signed checkpoint to compare with")
		res.Summary = "no signed checkpoint exists"
		return res
	}
	cp, err := audit.OpenCheckpoint(e.Checkpoint, e.VerifierKey)
	if err != nil {
		res.Violations = append(res.Violations, "the last checkpoint does not verify: "+err.Error())
		res.Summary = "the last checkpoint's signature does not verify"
		return res
	}
	res.Evidence = append(res.Evidence, fmt.Sprintf("last checkpoint: origin %s, size %d, root %x, signature verified with %s", cp.Origin, cp.Size, cp.Root[:], keyName(e.VerifierKey)))
	switch {
	case e.Origin != "" && cp.Origin != e.Origin:
		res.Violations = append(res.Violations, fmt.Sprintf("the checkpoint is of log %q, not %q", cp.Origin, e.Origin))
	case cp.Size > e.Size:
		res.Violations = append(res.Violations, fmt.Sprintf("the log has %d records but the checkpoint signed %d: records were removed", e.Size, cp.Size))
	default:
		then, err := e.RootAt(cp.Size)
		switch {
		case err != nil:
			res.Violations = append(res.Violations, fmt.Sprintf("the tree at the checkpoint's size %d cannot be read: %v", cp.Size, err))
		case then != cp.Root:
			res.Violations = append(res.Violations, fmt.Sprintf("the first %d records no longer hash to the checkpoint's root: the log was rewritten", cp.Size))
		default:
			res.Evidence = append(res.Evidence, fmt.Sprintf("the first %d records hash to the checkpoint's root; %d records since", cp.Size, e.Size-cp.Size))
		}
	}
	res.Satisfied = len(res.Violations) == 0
	if res.Satisfied {
		res.Summary = fmt.Sprintf("the chain of %d records verifies and extends the checkpoint of size %d", e.Size, cp.Size)
	} else {
		res.Summary = "the audit log does not match its last signed checkpoint"
	}
	return res
}

func keyName(verifier string) string {
	name, _, _ := strings.Cut(verifier, "+")
	return name
}

// checkAdminOIDC requires people to reach the admin API through OIDC.
func checkAdminOIDC(e AdminAuthEvidence) Result {
	res := Result{Evidence: []string{
		fmt.Sprintf("admin API on %s, TLS %t", e.Address, e.TLS),
	}}
	if len(e.MTLSSPIFFEIDs) > 0 {
		res.Evidence = append(res.Evidence, "admin mTLS for automation: "+strings.Join(e.MTLSSPIFFEIDs, ", "))
	}
	switch {
	case e.OIDCIssuer == "":
		res.Evidence = append(res.Evidence, "authentication: one static bearer token in the data dir (loopback dev mode)")
		res.Violations = append(res.Violations, "the admin API uses loopback dev mode: one shared static token, no per-person identity (not for production)")
		res.Summary = "loopback dev mode, not OIDC"
	case !strings.HasPrefix(e.OIDCIssuer, "https://"):
		res.Evidence = append(res.Evidence, "authentication: OIDC, issuer "+e.OIDCIssuer)
		res.Violations = append(res.Violations, "the OIDC issuer "+e.OIDCIssuer+" is not https")
		res.Summary = "OIDC issuer not over https"
	default:
		res.Evidence = append(res.Evidence, "authentication: OIDC, issuer "+e.OIDCIssuer)
		res.Satisfied = true
		res.Summary = "people authenticate through OIDC (" + e.OIDCIssuer + ")"
	}
	return res
}

// checkVersionsVerified requires every version with traffic to be
// validated or serving, with a passing verification and validation on
// record.
func checkVersionsVerified(vs []VersionEvidence) Result {
	var res Result
	withTraffic := 0
	for _, v := range vs {
		res.Evidence = append(res.Evidence, fmt.Sprintf("%s/%s: %s, weight %d, verified %t, validated %t%s", v.Model, v.Version, v.State, v.Weight, v.Verified, v.Validated, digest(v.Digest)))
		if v.Weight == 0 {
			continue
		}
		withTraffic++
		var why []string
		if v.State != mesh.StateValidated && v.State != mesh.StateServing {
			why = append(why, "state "+string(v.State))
		}
		if !v.Verified {
			why = append(why, "no passing verification on record")
		}
		if !v.Validated {
			why = append(why, "no passing validation on record")
		}
		if len(why) > 0 {
			res.Violations = append(res.Violations, fmt.Sprintf("%s/%s has weight %d: %s", v.Model, v.Version, v.Weight, strings.Join(why, "; ")))
		}
	}
	res.Satisfied = len(res.Violations) == 0
	res.Summary = fmt.Sprintf("%d versions, %d with traffic; %d with traffic lack verification or validation", len(vs), withTraffic, len(res.Violations))
	return res
}

func digest(d string) string {
	if d == "" {
		return ""
	}
	return ", artifact " + d
}

// checkRolloutsGated requires rollouts to be gated on live metrics, and
// every rollout in flight to have gates.
func checkRolloutsGated(e RolloutEvidence) Result {
	var res Result
	if e.MetricSource == "" {
		res.Evidence = append(res.Evidence, "metric source: none")
		res.Violations = append(res.Violations, "no metric source: every rollout gate is inconclusive, so no rollout is judged on its metrics")
	} else {
		res.Evidence = append(res.Evidence, "metric source: "+e.MetricSource)
	}
	for _, r := range e.Active {
		res.Evidence = append(res.Evidence, fmt.Sprintf("rollout %s → %s: %s, %d gates", r.Model, r.Canary, r.Phase, r.Gates))
		if r.Gates == 0 {
			res.Violations = append(res.Violations, fmt.Sprintf("rollout of %s to %s has no gate", r.Model, r.Canary))
		}
	}
	res.Satisfied = len(res.Violations) == 0
	res.Summary = fmt.Sprintf("%d rollouts in flight; %d problems", len(e.Active), len(res.Violations))
	return res
}

// checkKeyRotation requires every KEK to be within its rotation period and
// every class's newest live data key to be younger than the class's
// rotation period.
func checkKeyRotation(e KeyEvidence, now time.Time) Result {
	var res Result
	for _, k := range e.KEKs {
		age := now.Sub(k.Rotated)
		res.Evidence = append(res.Evidence, fmt.Sprintf("KEK %s: rotated %s ago, period %s", k.ID, age.Round(time.Second), k.MaxAge))
		if k.MaxAge <= 0 {
			res.Violations = append(res.Violations, fmt.Sprintf("KEK %s has no rotation period", k.ID))
		} else if age > k.MaxAge {
			res.Violations = append(res.Violations, fmt.Sprintf("KEK %s was last rotated %s ago, past its %s period", k.ID, age.Round(time.Second), k.MaxAge))
		}
	}
	if len(e.KEKs) == 0 {
		res.Violations = append(res.Violations, "no key-encryption key is listed")
	}
	// A key past its class's rotation is a violation only while it still
	// seals new data: an idle class's last key only opens.
	newest := map[string]time.Time{}
	for _, k := range e.DataKeys {
		if k.Destroyed || !k.Active || e.Classes[k.Class].PerSubject {
			continue
		}
		if k.Created.After(newest[k.Class]) {
			newest[k.Class] = k.Created
		}
	}
	for _, class := range slices.Sorted(maps.Keys(newest)) {
		p, ok := e.Classes[class]
		age := now.Sub(newest[class])
		res.Evidence = append(res.Evidence, fmt.Sprintf("class %s: newest data key %s old, rotation %s", class, age.Round(time.Second), p.Rotation))
		switch {
		case !ok || p.Rotation <= 0:
			res.Violations = append(res.Violations, fmt.Sprintf("class %s has no rotation period", class))
		case age > p.Rotation:
			res.Violations = append(res.Violations, fmt.Sprintf("class %s: the newest data key is %s old, past its %s rotation", class, age.Round(time.Second), p.Rotation))
		}
	}
	res.Satisfied = len(res.Violations) == 0
	res.Summary = fmt.Sprintf("%d KEKs, %d classes with live data keys; %d past rotation", len(e.KEKs), len(newest), len(res.Violations))
	return res
}

// checkDEKRetention requires every data key whose bucket is past its
// class's retention to be destroyed, unless a legal hold keeps it.
func checkDEKRetention(e KeyEvidence, now time.Time) Result {
	var res Result
	live, held := 0, 0
	for _, k := range e.DataKeys {
		if k.Destroyed {
			continue
		}
		live++
		p, ok := e.Classes[k.Class]
		if ok && p.PerSubject {
			continue // kept until its subject is erased
		}
		if !ok || p.Retention <= 0 {
			res.Violations = append(res.Violations, fmt.Sprintf("data key %s is of class %q, which has no retention", k.ID, k.Class))
			continue
		}
		due := k.BucketEnd.Add(p.Retention)
		if !now.After(due) {
			continue
		}
		if k.LegalHold {
			held++
			res.Evidence = append(res.Evidence, fmt.Sprintf("data key %s (%s) past retention since %s, kept by a legal hold", k.ID, k.Class, due.UTC().Format(time.RFC3339)))
			continue
		}
		res.Violations = append(res.Violations, fmt.Sprintf("data key %s (%s) should have been destroyed at %s (bucket ended %s, retention %s)", k.ID, k.Class, due.UTC().Format(time.RFC3339), k.BucketEnd.UTC().Format(time.RFC3339), p.Retention))
	}
	for _, class := range slices.Sorted(maps.Keys(e.Classes)) {
		res.Evidence = append(res.Evidence, fmt.Sprintf("class %s: retention %s", class, e.Classes[class].Retention))
	}
	res.Evidence = append(res.Evidence, fmt.Sprintf("%d data keys, %d live, %d under legal hold past retention", len(e.DataKeys), live, held))
	res.Satisfied = len(res.Violations) == 0
	res.Summary = fmt.Sprintf("%d live data keys; %d kept past their retention", live, len(res.Violations))
	return res
}

// checkConsent requires consent to be checked for every purpose that
// carries health data, and nexus-authz's consent data to be fresh.
func checkConsent(e ConsentEvidence, now time.Time) Result {
	var res Result
	health := 0
	for _, p := range e.Purposes {
		line := fmt.Sprintf("purpose %s: health data %t, consent checked %t", p.Name, p.Health, p.ConsentChecked)
		if p.Basis != "" {
			line += ", basis " + p.Basis
		}
		res.Evidence = append(res.Evidence, line)
		if p.Health {
			health++
			if !p.ConsentChecked && p.Basis == "" {
				res.Violations = append(res.Violations, "purpose "+p.Name+" carries health data but its calls are not checked for consent")
			}
		}
	}
	age := now.Sub(e.Pushed)
	switch {
	case e.Pushed.IsZero():
		res.Violations = append(res.Violations, "nexus-authz has never acknowledged the consent data")
	case e.MaxStaleness <= 0:
		res.Violations = append(res.Violations, "no staleness bound is set for the consent data")
	case age > e.MaxStaleness:
		res.Violations = append(res.Violations, fmt.Sprintf("nexus-authz's consent data is %s old, past its %s bound", age.Round(time.Millisecond), e.MaxStaleness))
	default:
		res.Evidence = append(res.Evidence, fmt.Sprintf("consent data acknowledged %s ago (bound %s)", age.Round(time.Millisecond), e.MaxStaleness))
	}
	res.Satisfied = len(res.Violations) == 0
	res.Summary = fmt.Sprintf("%d purposes, %d carry health data; %d problems", len(e.Purposes), health, len(res.Violations))
	return res
}

// RequiredMasks are the decision-log input fields that hold credentials
// or request content: each must be masked (or an ancestor of it).
func RequiredMasks() []string {
	return []string{
		"/input/attributes/request/http/headers/authorization",
		"/input/attributes/request/http/headers/cookie",
		"/input/attributes/request/http/body",
		"/input/attributes/request/http/rawBody",
		"/input/parsed_body",
	}
}

// checkDecisionLogMasked requires nexus-authz to mask credentials and
// bodies in its decision log, and anything kept unmasked to be encrypted.
func checkDecisionLogMasked(e DecisionLogEvidence) Result {
	var res Result
	res.Evidence = append(res.Evidence, "masked: "+orNone(e.Masks))
	for _, want := range RequiredMasks() {
		if !slices.ContainsFunc(e.Masks, func(m string) bool { return m == want || strings.HasPrefix(want, strings.TrimSuffix(m, "/")+"/") }) {
			res.Violations = append(res.Violations, want+" is logged unmasked")
		}
	}
	if e.UnmaskedKept {
		res.Evidence = append(res.Evidence, fmt.Sprintf("unmasked inputs kept, encrypted %t", e.UnmaskedEncrypted))
		if !e.UnmaskedEncrypted {
			res.Violations = append(res.Violations, "unmasked decision inputs are kept without encryption")
		}
	}
	res.Satisfied = len(res.Violations) == 0
	res.Summary = fmt.Sprintf("%d masks; %d required fields unmasked or kept in the clear", len(e.Masks), len(res.Violations))
	return res
}

// checkBreakGlass requires every break-glass grant to carry a reason and
// every ended grant to be reviewed within the review window.
func checkBreakGlass(e BreakGlassEvidence, now time.Time) Result {
	var res Result
	pending := 0
	for _, g := range e.Grants {
		state := "active"
		if now.After(g.End) {
			state = "ended"
		}
		res.Evidence = append(res.Evidence, fmt.Sprintf("grant %s by %s: %s %s–%s, %d uses, reviewed %t", g.ID, g.Principal, state, g.Start.UTC().Format(time.RFC3339), g.End.UTC().Format(time.RFC3339), g.Uses, g.Reviewed))
		if strings.TrimSpace(g.Reason) == "" {
			res.Violations = append(res.Violations, "grant "+g.ID+" has no reason")
		}
		if g.Reviewed || !now.After(g.End) {
			continue
		}
		if e.ReviewWithin > 0 && !now.After(g.End.Add(e.ReviewWithin)) {
			pending++
			continue
		}
		res.Violations = append(res.Violations, fmt.Sprintf("grant %s ended %s and is not reviewed (due within %s)", g.ID, g.End.UTC().Format(time.RFC3339), e.ReviewWithin))
	}
	res.Satisfied = len(res.Violations) == 0
	res.Summary = fmt.Sprintf("%d grants, %d awaiting review within the window; %d problems", len(e.Grants), pending, len(res.Violations))
	return res
}

// checkAnchors requires at least one nexus-authz feed, each anchored
// within three intervals and pulling without error: a decision log whose
// head is not anchored is not covered by the audit log's checkpoint.
func checkAnchors(e AnchorEvidence, now time.Time) Result {
	var res Result
	if len(e.Feeds) == 0 {
		res.Violations = append(res.Violations, "no nexus-authz audit feed is configured (--authz-audit-feed): decision logs are not anchored")
	}
	late := 3 * e.Interval
	for _, f := range e.Feeds {
		res.Evidence = append(res.Evidence, fmt.Sprintf("%s: last pull %s, last anchor %s", f.Name, when(f.LastPull), when(f.LastAnchor)))
		switch {
		case f.LastError != "":
			res.Violations = append(res.Violations, f.Name+": the last pull failed: "+f.LastError)
		case f.LastAnchor.IsZero():
			res.Violations = append(res.Violations, f.Name+": its decision log was never anchored")
		case late > 0 && now.Sub(f.LastAnchor) > late && now.Sub(f.LastPull) > late:
			res.Violations = append(res.Violations, fmt.Sprintf("%s: not anchored since %s (interval %s)", f.Name, when(f.LastAnchor), e.Interval))
		}
	}
	res.Satisfied = len(res.Violations) == 0
	res.Summary = fmt.Sprintf("%d nexus-authz feeds; %d problems", len(e.Feeds), len(res.Violations))
	return res
}

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// checkAccess flags access unused for a quarter that does not expire by
// itself, and an access review that could not read all its sources.
func checkAccess(e AccessEvidence) Result {
	var res Result
	for _, p := range e.Principals {
		res.Evidence = append(res.Evidence, fmt.Sprintf("%s %s: last used %s", p.Kind, p.ID, when(p.LastUsed)))
		if p.Stale {
			res.Violations = append(res.Violations, fmt.Sprintf("%s %s has access it has not used in 90 days", p.Kind, p.ID))
		}
	}
	for _, u := range e.Incomplete {
		res.Violations = append(res.Violations, "the access review is incomplete: "+u)
	}
	res.Satisfied = len(res.Violations) == 0
	res.Summary = fmt.Sprintf("%d principals; %d stale or unreviewable", len(e.Principals), len(res.Violations))
	return res
}
