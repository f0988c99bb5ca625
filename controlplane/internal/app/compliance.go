package app

import (
	"context"
	"path/filepath"

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
	"github.com/secureai-nexus/nexus/controlplane/internal/compliance"
	"github.com/secureai-nexus/nexus/controlplane/internal/controller"
	"github.com/secureai-nexus/nexus/controlplane/internal/registry"
	"github.com/secureai-nexus/nexus/controlplane/internal/rollout/runner"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
	"github.com/secureai-nexus/nexus/controlplane/internal/xds"
)

// complianceSources are the evidence sources that exist today. The key
// manager, consent store, nexus-authz's decision log and break-glass
// grants are not wired yet: their checks are not satisfied, saying so.
func complianceSources(cfg Config, ctrl *controller.Controller, xs *xds.Server, st store.Store, signer *audit.Signer, origin string, reg *registry.Registry, rollouts *runner.Runner) *compliance.Sources {
	return &compliance.Sources{
		Mesh:     ctrl,
		Snapshot: xs,
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
