package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/accessreview"
	"github.com/secureai-nexus/nexus/controlplane/internal/anchor"
	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
	"github.com/secureai-nexus/nexus/controlplane/internal/compliance"
	"github.com/secureai-nexus/nexus/controlplane/internal/consent"
	"github.com/secureai-nexus/nexus/controlplane/internal/controller"
	"github.com/secureai-nexus/nexus/controlplane/internal/keys"
	"github.com/secureai-nexus/nexus/controlplane/internal/registry"
	"github.com/secureai-nexus/nexus/controlplane/internal/rollout/runner"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
	"github.com/secureai-nexus/nexus/controlplane/internal/xds"
)

// complianceSources are the checks' evidence sources.
func complianceSources(cfg Config, ctrl *controller.Controller, xs *xds.Server, st *store.SQLite, signer *audit.Signer, origin string, reg *registry.Registry, rollouts *runner.Runner,
	anchors *anchor.Runner, access *accessreview.Sources) *compliance.Sources {
	return &compliance.Sources{
		Anchors:     anchorEvidence{anchors},
		DecisionLog: anchorEvidence{anchors},
		Access:      accessEvidence{access},
		Mesh:        ctrl,
		Snapshot:    xs,
		Audit: &compliance.AuditLog{Records: st, Signer: signer, Origin: origin,
			CheckpointFile: filepath.Join(cfg.DataDir, "compliance-checkpoint")},
		Registry:  registryEvidence{ctrl: ctrl, reg: reg},
		AdminAuth: adminAuthEvidence(cfg),
		Rollouts:  rolloutEvidence{ctrl: ctrl, runner: rollouts, metrics: cfg.PrometheusURL},
	}
}

type adminAuthEvidence Config

func (c adminAuthEvidence) AdminAuth() compliance.AdminAuthEvidence {
	e := compliance.AdminAuthEvidence{OIDCIssuer: c.OIDCIssuer, Address: c.AdminAddr, TLS: c.AdminTLSCert != ""}
	if c.AdminMTLSAddr != "" {
		e.MTLSSPIFFEIDs = c.AdminSPIFFEIDs
	}
	return e
}

type registryEvidence struct {
	ctrl *controller.Controller
	reg  *registry.Registry
}

func (r registryEvidence) VersionEvidence(ctx context.Context) ([]compliance.VersionEvidence, error) {
	var out []compliance.VersionEvidence
	for _, md := range r.ctrl.Mesh().Models {
		views, err := r.reg.Versions(ctx, md.Name)
		if err != nil {
			return nil, err
		}
		for _, v := range views {
			e := compliance.VersionEvidence{Model: md.Name, Version: v.Name, State: v.State, Weight: v.Weight}
			if rec := v.Record; rec != nil {
				if rec.Verification != nil && rec.Verification.OK {
					e.Verified, e.Digest = true, rec.Verification.Digest
				}
				e.Validated = rec.Validation != nil && rec.Validation.OK
			}
			out = append(out, e)
		}
	}
	return out, nil
}

type rolloutEvidence struct {
	ctrl    *controller.Controller
	runner  *runner.Runner
	metrics string
}

func (r rolloutEvidence) RolloutEvidence(context.Context) (compliance.RolloutEvidence, error) {
	e := compliance.RolloutEvidence{MetricSource: r.metrics}
	for _, md := range r.ctrl.Mesh().Models {
		if !r.runner.Active(md.Name) {
			continue
		}
		st, _ := r.runner.Current(md.Name)
		e.Active = append(e.Active, compliance.ActiveRollout{Model: md.Name, Canary: st.Canary, Phase: string(st.Phase), Gates: len(st.Spec.Gates)})
	}
	return e, nil
}

// anchorEvidence serves the anchoring check and, from the feeds' last
// pages, the decision-log check.
type anchorEvidence struct{ r *anchor.Runner }

func (a anchorEvidence) AnchorEvidence(context.Context) (compliance.AnchorEvidence, error) {
	e := compliance.AnchorEvidence{Interval: a.r.Every()}
	for _, s := range a.r.Statuses() {
		e.Feeds = append(e.Feeds, compliance.AnchorFeed{Name: s.Feed, LastPull: s.LastPull, LastError: s.LastError, LastAnchor: s.LastAnchor})
	}
	return e, nil
}

// DecisionLogEvidence is the weakest of the nexus-authz configurations:
// only a field every one of them masks counts as masked.
func (a anchorEvidence) DecisionLogEvidence(context.Context) (compliance.DecisionLogEvidence, error) {
	var masks []string
	read := 0
	for _, s := range a.r.Statuses() {
		if s.DecisionLog == nil {
			return compliance.DecisionLogEvidence{}, fmt.Errorf("%s has not reported its decision log configuration (last error: %s)", s.Feed, orNone(s.LastError))
		}
		if read == 0 {
			masks = slices.Clone(s.DecisionLog.Masks)
		} else {
			masks = slices.DeleteFunc(masks, func(m string) bool { return !slices.Contains(s.DecisionLog.Masks, m) })
		}
		read++
	}
	if read == 0 {
		return compliance.DecisionLogEvidence{}, errors.New("no nexus-authz audit feed is configured (--authz-audit-feed)")
	}
	// Masked values kept sealed count as kept, and as encrypted.
	e := compliance.DecisionLogEvidence{Masks: masks}
	for _, s := range a.r.Statuses() {
		if s.DecisionLog.SealedMasked {
			e.UnmaskedKept, e.UnmaskedEncrypted = true, true
		}
	}
	return e, nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

type accessEvidence struct{ src *accessreview.Sources }

func (a accessEvidence) AccessEvidence(ctx context.Context) (compliance.AccessEvidence, error) {
	rep, err := a.src.Review(ctx)
	if err != nil {
		return compliance.AccessEvidence{}, err
	}
	e := compliance.AccessEvidence{Incomplete: rep.Unavailable}
	for _, p := range rep.Principals {
		e.Principals = append(e.Principals, compliance.AccessPrincipal{Kind: p.Kind, ID: p.ID, LastUsed: p.LastUsed, Stale: p.Stale})
	}
	return e, nil
}

// nonConsentBasis are the shipped purposes whose legal basis is not
// consent: HIPAA lets treatment, payment and health care operations use
// PHI without authorisation (45 CFR 164.506), and GDPR Art. 9(2)(h)
// allows processing for health care.
var nonConsentBasis = map[string]string{
	"treatment":  "HIPAA 164.506(c), GDPR Art. 9(2)(h)",
	"payment":    "HIPAA 164.506(c)",
	"operations": "HIPAA 164.506(c)",
}

// consentEvidence reads the purposes from the serving policy's data (each
// nexus-authz's /v1/data) and how fresh nexus-authz's consent data is.
type consentEvidence struct {
	svc          *consent.Service
	policy       *accessreview.Sources
	maxStaleness time.Duration
}

func (c consentEvidence) ConsentEvidence(ctx context.Context) (compliance.ConsentEvidence, error) {
	e := compliance.ConsentEvidence{Pushed: c.svc.Publisher().LastServed(), MaxStaleness: c.maxStaleness}
	var data struct {
		Result struct {
			Purposes []string `json:"purposes"`
			Required []string `json:"consent_required_purposes"`
		} `json:"result"`
	}
	if err := c.policy.PolicyData(ctx, "nexus", &data); err != nil {
		return e, fmt.Errorf("the policy's purposes cannot be read: %w", err)
	}
	for _, p := range data.Result.Purposes {
		e.Purposes = append(e.Purposes, compliance.Purpose{Name: p, Health: true,
			ConsentChecked: slices.Contains(data.Result.Required, p), Basis: nonConsentBasis[p]})
	}
	return e, nil
}

// breakGlassEvidence lists the grants; each must be reviewed within
// reviewWithin of its end.
type breakGlassEvidence struct {
	svc          *consent.Service
	reviewWithin time.Duration
}

func (b breakGlassEvidence) BreakGlassEvidence(ctx context.Context) (compliance.BreakGlassEvidence, error) {
	grants, err := b.svc.BreakGlassGrants(ctx)
	if err != nil {
		return compliance.BreakGlassEvidence{}, err
	}
	e := compliance.BreakGlassEvidence{ReviewWithin: b.reviewWithin}
	for _, g := range grants {
		e.Grants = append(e.Grants, compliance.BreakGlassGrant{ID: g.ID, Principal: grantee(g), Reason: g.Reason,
			Start: g.CreatedAt, End: grantEnd(g), Reviewed: g.ReviewedAt != nil})
	}
	return e, nil
}

// grantee names whom a break-glass grant is for: a caller's SPIFFE id,
// or a subject by its keyed hash.
func grantee(g consent.Grant) string {
	if g.SPIFFEID != "" {
		return g.SPIFFEID
	}
	return "subject " + g.SubjectID
}

// grantEnd is when a grant ended, or will.
func grantEnd(g consent.Grant) time.Time {
	if g.EndedAt != nil {
		return *g.EndedAt
	}
	return g.ExpiresAt
}

// breakGlassReview lists the grants for the access review.
func breakGlassReview(svc *consent.Service) func(context.Context) ([]accessreview.BreakGlass, error) {
	return func(ctx context.Context) ([]accessreview.BreakGlass, error) {
		grants, err := svc.BreakGlassGrants(ctx)
		if err != nil {
			return nil, err
		}
		var out []accessreview.BreakGlass
		for _, g := range grants {
			out = append(out, accessreview.BreakGlass{ID: g.ID, Who: grantee(g), Model: g.Model, Reason: g.Reason,
				Granted: g.CreatedAt, Expires: grantEnd(g), Reviewed: g.ReviewedAt != nil})
		}
		return out, nil
	}
}

// keysEvidence is the key manager's inventory: every data key with its
// class, bucket and state, the classes' policies and the KEK's rotation.
type keysEvidence struct {
	ring        *keys.Keyring
	kekRotation time.Duration
}

func (k keysEvidence) KeyEvidence(ctx context.Context) (compliance.KeyEvidence, error) {
	inv, err := k.ring.Inventory(ctx)
	if err != nil {
		return compliance.KeyEvidence{}, err
	}
	e := compliance.KeyEvidence{Classes: map[string]compliance.KeyClass{},
		KEKs: []compliance.KEK{{ID: inv.KEK.Name, Rotated: inv.KEK.RotatedAt, MaxAge: k.kekRotation}}}
	for _, c := range inv.Classes {
		rot := c.Rotation
		if rot == 0 {
			rot = c.Bucket
		}
		e.Classes[c.Name] = compliance.KeyClass{Retention: c.Retention, Rotation: rot, PerSubject: c.PerSubject}
	}
	for _, v := range inv.Keys {
		d := compliance.DataKey{ID: v.ID, Class: v.Class, Created: v.CreatedAt,
			Destroyed: v.State == keys.StateDestroyed, LegalHold: v.State == keys.StateHeld, Active: v.State == keys.StateActive}
		if v.BucketEnd != nil {
			d.BucketEnd = *v.BucketEnd
		}
		e.DataKeys = append(e.DataKeys, d)
	}
	return e, nil
}
