package compliance

import "strings"

func hipaa(ids ...string) []Control { return controls(HIPAA, ids) }
func gdpr(ids ...string) []Control  { return controls(GDPR, ids) }
func soc2(ids ...string) []Control  { return controls(SOC2, ids) }
func iso(ids ...string) []Control   { return controls(ISO27001, ids) }

func controls(f Framework, ids []string) []Control {
	out := make([]Control, len(ids))
	for i, id := range ids {
		out[i] = Control{Framework: f, ID: id}
	}
	return out
}

func join(groups ...[]Control) []Control {
	var out []Control
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// Catalogue is every check, in report order. It is built afresh on each
// call so no caller can change another's.
func Catalogue() []Check {
	return []Check{
		{
			ID:    "mtls-every-hop",
			Title: "Mutual TLS on every hop of the served xDS",
			Description: "Walks the Envoy listeners and clusters published to every sidecar: each upstream cluster presents the node's SVID from SDS and verifies the peer's SPIFFE id against the SDS trust bundle, " +
				"and each listener filter chain requires a client certificate. Loopback legs to the local app are listed and allowed; the JWKS fetch must verify the issuer's certificate.",
			Method: MethodTest, Source: "xDS snapshot",
			Controls: join(hipaa("164.312(d)", "164.312(e)(1)", "164.312(e)(2)(ii)"), soc2("CC6.1", "CC6.7"), gdpr("Art. 32"), iso("A.8.20", "A.8.24")),
			Remediation: []string{
				"Run `nexusctl validate` on the mesh file and fix every problem it lists.",
				"Check the offending cluster or listener with `GET /api/v1/admin/nodes` and the node's config dump; a plaintext hop off loopback is a translation defect: report it with the node id.",
				"Bind a service's outbound listener to 127.0.0.1 (mesh `outbound:`), never to a routable address.",
			},
			eval: snapshotCheck(checkMTLS),
		},
		{
			ID:          "ext-authz-fail-closed",
			Title:       "ext_authz fails closed on every model listener",
			Description: "Every filter chain of every model sidecar's listeners carries the ext_authz filter before the router, with failure_mode_allow false: an unreachable or slow nexus-authz denies.",
			Method:      MethodTest, Source: "xDS snapshot",
			Controls: join(hipaa("164.312(a)(1)"), soc2("CC6.1", "CC6.3"), gdpr("Art. 25", "Art. 32"), iso("A.5.15", "A.8.3")),
			Remediation: []string{
				"Nexus never sets failure_mode_allow; a model listener without ext_authz or failing open is a translation defect: report it with the node id.",
				"Until fixed, set the model's weights to 0 (`nexusctl traffic MODEL v=0 …`) so no traffic reaches it unauthorised.",
			},
			eval: snapshotCheck(checkExtAuthzFailClosed),
		},
		{
			ID:          "pii-filter-fail-closed",
			Title:       "piiguard fails closed on every model listener",
			Description: "Every filter chain of every model sidecar's listeners runs the piiguard Wasm filter before the router with failure_policy FAIL_CLOSED: a filter that cannot start lets no unscanned body through.",
			Method:      MethodTest, Source: "xDS snapshot",
			Controls: join(hipaa("164.312(a)(2)(iv)", "164.312(e)(2)(ii)"), soc2("CC6.1"), gdpr("Art. 25", "Art. 32"), iso("A.8.11")),
			Remediation: []string{
				"A model listener without piiguard failing closed is a translation defect: report it with the node id.",
				"Check the piiguard .wasm path and sha256 in the mesh file (`piiGuard:`) and that Envoy loads it (its logs name the wasm VM).",
			},
			eval: snapshotCheck(checkPIIFilterFailClosed),
		},
		{
			ID:          "pii-health-classes",
			Title:       "Every model keeps health data classes from the model",
			Description: "Each model's `pii:` modes in the mesh tokenize, redact, hash or block every health class (" + joinComma(HealthClasses()) + "); `report` or no mode lets the value through to the model.",
			Method:      MethodExamine, Source: "mesh",
			Controls: join(hipaa("164.312(a)(2)(iv)"), soc2("CC6.1"), gdpr("Art. 25", "Art. 32"), iso("A.8.11")),
			Remediation: []string{
				"Add every health class to the model's `pii:` map in the mesh file with tokenize (reversible for the caller), redact or block, e.g. `MEDICAL_RECORD_NUMBER: tokenize`.",
				"Run `nexusctl validate MESH_FILE`; the control plane reloads the file within seconds.",
			},
			eval: evalPIIHealth,
		},
		{
			ID:    "audit-log-checkpoint",
			Title: "Audit log consistent with the last signed checkpoint",
			Description: "Walks the audit hash chain, recomputes the RFC 6962 Merkle tree over its records and checks that the last signed checkpoint (C2SP tlog-checkpoint, Ed25519) verifies with the log's key " +
				"and that the first records of the log still hash to its root: no record was changed or removed since it was signed.",
			Method: MethodTest, Source: "audit log",
			Controls: join(hipaa("164.312(b)", "164.312(c)(1)", "164.312(c)(2)"), soc2("CC7.2", "CC7.3"), gdpr("Art. 5(2)", "Art. 30"), iso("A.8.15")),
			Remediation: []string{
				"Treat a break or a mismatch as a security incident: stop the control plane, keep the data dir as evidence and restore the store from a backup taken before the break.",
				"`nexusctl audit verify` names the first record that fails; compare it with the backup.",
				"If no checkpoint exists yet, fetch one (`nexusctl audit verify` or `GET /api/v1/admin/audit/checkpoint`) and generate the report again.",
			},
			eval: evalAudit,
		},
		{
			ID:          "admin-oidc",
			Title:       "Admin access through OIDC",
			Description: "People reach the admin API with OIDC bearer tokens from the configured issuer, each naming a person; the loopback dev mode (one static token) is not for production.",
			Method:      MethodExamine, Source: "admin API configuration",
			Controls: join(hipaa("164.312(a)(2)(i)", "164.312(d)"), soc2("CC6.1", "CC6.2"), gdpr("Art. 32"), iso("A.5.16", "A.5.17", "A.8.5")),
			Remediation: []string{
				"Start nexus-controlplane with `--oidc-issuer https://… --oidc-audience …` (and `--admin-tls-cert/--admin-tls-key` off loopback).",
				"Give automation an identity on the admin mTLS listener (`--admin-mtls-addr`, `--admin-spiffe-id`) instead of the static token.",
			},
			eval: evalAdmin,
		},
		{
			ID:          "model-versions-verified",
			Title:       "Model versions with traffic are verified and validated",
			Description: "Every model version with a weight above 0 is validated or serving, with a passing registry verification (signature and artifact) and validation (behaviour at weight 0) on record.",
			Method:      MethodExamine, Source: "model registry",
			Controls: join(hipaa("164.312(c)(1)"), soc2("CC7.1", "CC8.1"), gdpr("Art. 32"), iso("A.8.29", "A.8.32")),
			Remediation: []string{
				"Verify and validate the version: `POST /api/v1/admin/models/MODEL/versions/VERSION/verify`, then `…/validate`.",
				"Until both pass, move its traffic to a verified version with `nexusctl traffic` or `nexusctl rollout abort MODEL`.",
			},
			eval: evalVersions,
		},
		{
			ID:          "rollouts-gated",
			Title:       "Rollouts are gated on live metrics",
			Description: "The rollout runner reads its gates from a metric source, and every rollout in flight has gates, so a change reaches users only as its metrics allow.",
			Method:      MethodExamine, Source: "rollout runner",
			Controls: join(soc2("CC8.1"), iso("A.8.32")),
			Remediation: []string{
				"Start nexus-controlplane with `--prometheus-url` so gates are evaluated.",
				"Start rollouts with gates (`nexusctl rollout start MODEL VERSION …`); abort any rollout without them.",
			},
			eval: evalRollouts,
		},
		{
			ID:          "key-rotation-age",
			Title:       "Keys within their rotation age",
			Description: "Every key-encryption key was rotated within its period, and each retention class's newest data key is younger than the class's rotation period (4 h for inference data, 30 days at rest by default).",
			Method:      MethodExamine, Source: "key manager",
			Controls: join(hipaa("164.312(a)(2)(iv)", "164.312(e)(2)(ii)"), soc2("CC6.1"), gdpr("Art. 32"), iso("A.8.24")),
			Remediation: []string{
				"Check that the key manager's rotation runs (its logs and audit entries `key.rotate`) and that Vault Transit is reachable.",
				"Rotate the overdue key now; rotation never makes data unreadable before its retention ends.",
			},
			eval: evalKeys(checkKeyRotation),
		},
		{
			ID:          "dek-retention",
			Title:       "No data key older than its retention class",
			Description: "Every data-encryption key whose time bucket ended longer ago than its class's retention is destroyed (crypto-shredding), unless a legal hold keeps it.",
			Method:      MethodExamine, Source: "key manager",
			Controls: join(soc2("CC6.5"), gdpr("Art. 5(1)(e)", "Art. 17"), iso("A.8.10")),
			Remediation: []string{
				"Check that the retention sweeper runs (audit entries `key.destroy`) and why it skipped the key.",
				"Destroy the expired key; if the data must be kept, place a legal hold with its reason instead.",
			},
			eval: evalKeys(checkDEKRetention),
		},
		{
			ID:          "consent-health-purposes",
			Title:       "Consent checked for every purpose that carries health data",
			Description: "The shipped policy denies a call for a purpose carrying health data unless the subject consented to that purpose, and nexus-authz's consent data is within its staleness bound (requests fail closed past it).",
			Method:      MethodExamine, Source: "consent store",
			Controls: join(gdpr("Art. 6(1)(a)", "Art. 7"), iso("A.5.34")),
			Remediation: []string{
				"Mark the purpose as consent-required in the consent configuration so the policy checks it.",
				"If the consent data is stale, check the control plane's push to nexus-authz (its bundle status) and nexus-authz's logs.",
			},
			eval: evalConsent,
		},
		{
			ID:          "decision-log-masked",
			Title:       "Decision logs masked",
			Description: "nexus-authz masks credentials (authorization, cookie) and request bodies in its decision log (" + joinComma(RequiredMasks()) + "), and keeps unmasked inputs only encrypted.",
			Method:      MethodExamine, Source: "nexus-authz configuration",
			Controls: join(hipaa("164.312(b)"), soc2("CC6.1", "CC7.2"), gdpr("Art. 5(1)(c)", "Art. 25", "Art. 32"), iso("A.8.11", "A.8.15")),
			Remediation: []string{
				"Start nexus-authz without `--no-default-masks`; add `--mask` for any further field that can hold personal data.",
				"If unmasked inputs must be kept, enable their encryption under a retention-class data key.",
			},
			eval: evalDecisionLog,
		},
		{
			ID:          "break-glass-reviewed",
			Title:       "Break-glass uses reviewed",
			Description: "Every emergency-access grant carries a reason and, once ended, is reviewed within the review window.",
			Method:      MethodExamine, Source: "break-glass grants",
			Controls: join(hipaa("164.312(a)(2)(ii)", "164.312(b)"), soc2("CC6.2", "CC6.3", "CC7.3"), gdpr("Art. 32"), iso("A.5.18", "A.8.2")),
			Remediation: []string{
				"Review each listed grant: who used it, for what, and whether the reason held; record the review.",
				"Revoke any grant still active without an emergency.",
			},
			eval: evalBreakGlass,
		},
		{
			ID:          "decision-log-anchored",
			Title:       "Decision logs anchored into the audit log",
			Description: "Every nexus-authz's decision-log chain head is anchored into the audit log at its interval (--authz-audit-feed, --anchor-interval), so the audit log's signed checkpoint covers every decision; its policy activations and refusals are audit records.",
			Method:      MethodTest, Source: "anchor feeds",
			Controls: join(hipaa("164.312(b)", "164.312(c)(1)"), soc2("CC7.2", "CC8.1"), gdpr("Art. 5(2)", "Art. 30"), iso("A.8.15")),
			Remediation: []string{
				"Start the control plane with `--authz-audit-feed http://NEXUS_AUTHZ_HTTP_ADDR` for every nexus-authz.",
				"For a failing pull, check that nexus-authz's HTTP address is reachable from the control plane (`curl http://…/v1/nexus/audit-feed`).",
				"Verify the decision log against the last anchor: `nexus-authz verify-log --anchor HASH FILE…`.",
			},
			eval: evalAnchors,
		},
		{
			ID:          "access-unused-removed",
			Title:       "No standing access left unused for a quarter",
			Description: "The access review lists every admin identity, policy grant, caller, open join token and break-glass grant with its last use; access that does not expire by itself and has not been used in 90 days is a candidate for removal, and a review that cannot read a source is incomplete.",
			Method:      MethodExamine, Source: "access review",
			Controls: join(hipaa("164.312(a)(1)"), soc2("CC6.2", "CC6.3"), gdpr("Art. 32"), iso("A.5.18", "A.8.2")),
			Remediation: []string{
				"Run `nexusctl access-review` and remove each stale principal: the grant from the policy data, the admin identity from the OIDC provider or --admin-spiffe-id.",
				"For an incomplete review, fix the source it names (usually --authz-audit-feed).",
			},
			eval: evalAccess,
		},
	}
}

func joinComma(s []string) string { return strings.Join(s, ", ") }
