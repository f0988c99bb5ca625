package compliance

import (
	"context"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/translate"
)

// The evaluators below are the thin collection step: ask the source,
// turn a missing or failing source into "cannot be evaluated", and hand
// the evidence to the pure check.

type evaluator = func(ctx context.Context, s Sources, now time.Time) Result

func snapshotCheck(check func(map[string]*translate.Resources) Result) evaluator {
	return func(_ context.Context, s Sources, _ time.Time) Result {
		if s.Snapshot == nil {
			return unevaluated("no xDS snapshot source configured")
		}
		return check(s.Snapshot.Published())
	}
}

func evalPIIHealth(_ context.Context, s Sources, _ time.Time) Result {
	if s.Mesh == nil || s.Mesh.Mesh() == nil {
		return unevaluated("no mesh source configured")
	}
	return checkPIIHealth(s.Mesh.Mesh())
}

func evalAudit(ctx context.Context, s Sources, _ time.Time) Result {
	if s.Audit == nil {
		return unevaluated("no audit log source configured")
	}
	e, err := s.Audit.AuditEvidence(ctx)
	if err != nil {
		return unevaluated("the audit log could not be read: %v", err)
	}
	return checkAuditCheckpoint(e)
}

func evalAdmin(_ context.Context, s Sources, _ time.Time) Result {
	if s.AdminAuth == nil {
		return unevaluated("no admin authentication source configured")
	}
	return checkAdminOIDC(s.AdminAuth.AdminAuth())
}

func evalVersions(ctx context.Context, s Sources, _ time.Time) Result {
	if s.Registry == nil {
		return unevaluated("no model registry configured")
	}
	vs, err := s.Registry.VersionEvidence(ctx)
	if err != nil {
		return unevaluated("the registry could not be read: %v", err)
	}
	return checkVersionsVerified(vs)
}

func evalRollouts(ctx context.Context, s Sources, _ time.Time) Result {
	if s.Rollouts == nil {
		return unevaluated("no rollout runner configured")
	}
	e, err := s.Rollouts.RolloutEvidence(ctx)
	if err != nil {
		return unevaluated("the rollout runner could not be read: %v", err)
	}
	return checkRolloutsGated(e)
}

func evalKeys(check func(KeyEvidence, time.Time) Result) evaluator {
	return func(ctx context.Context, s Sources, now time.Time) Result {
		if s.Keys == nil {
			return unevaluated("no key manager configured")
		}
		e, err := s.Keys.KeyEvidence(ctx)
		if err != nil {
			return unevaluated("the key manager could not be read: %v", err)
		}
		return check(e, now)
	}
}

func evalConsent(ctx context.Context, s Sources, now time.Time) Result {
	if s.Consent == nil {
		return unevaluated("no consent store configured")
	}
	e, err := s.Consent.ConsentEvidence(ctx)
	if err != nil {
		return unevaluated("the consent store could not be read: %v", err)
	}
	return checkConsent(e, now)
}

func evalDecisionLog(ctx context.Context, s Sources, _ time.Time) Result {
	if s.DecisionLog == nil {
		return unevaluated("no nexus-authz decision log configuration available")
	}
	e, err := s.DecisionLog.DecisionLogEvidence(ctx)
	if err != nil {
		return unevaluated("nexus-authz's configuration could not be read: %v", err)
	}
	return checkDecisionLogMasked(e)
}

func evalBreakGlass(ctx context.Context, s Sources, now time.Time) Result {
	if s.BreakGlass == nil {
		return unevaluated("no break-glass source configured")
	}
	e, err := s.BreakGlass.BreakGlassEvidence(ctx)
	if err != nil {
		return unevaluated("the break-glass grants could not be read: %v", err)
	}
	return checkBreakGlass(e, now)
}

func evalAnchors(ctx context.Context, s Sources, now time.Time) Result {
	if s.Anchors == nil {
		return unevaluated("no anchor source configured")
	}
	e, err := s.Anchors.AnchorEvidence(ctx)
	if err != nil {
		return unevaluated("the anchoring state could not be read: %v", err)
	}
	return checkAnchors(e, now)
}

func evalAccess(ctx context.Context, s Sources, _ time.Time) Result {
	if s.Access == nil {
		return unevaluated("no access review source configured")
	}
	e, err := s.Access.AccessEvidence(ctx)
	if err != nil {
		return unevaluated("the access review could not be built: %v", err)
	}
	return checkAccess(e)
}
