package envoy.authz_test

import rego.v1

import data.envoy.authz

clinic := "spiffe://nexus.local/ns/clinic/sa/frontdesk"

research := "spiffe://nexus.local/ns/research/sa/notebook"

stranger := "spiffe://nexus.local/ns/marketing/sa/campaigns"

admin := "spiffe://nexus.local/ns/nexus/sa/admin"

call(who, extra) := object.union(
	{
		"attributes": {"request": {"http": {"method": "POST", "path": "/v1/chat/completions", "headers": {}}}},
		"parsed_path": ["v1", "chat", "completions"],
		"parsed_body": {"model": "triage", "messages": []},
		"nexus": {
			"caller": {"spiffe_id": who, "trust_domain": "nexus.local", "path": trim_prefix(who, "spiffe://nexus.local")},
			"model": "triage", "version": "", "policy": "nexus.models.triage", "purpose": "",
			"pii": {"classes": [], "counts": {}},
		},
	},
	extra,
)

with_pii(who, classes, purpose) := call(who, {"nexus": {
	"caller": {"spiffe_id": who, "trust_domain": "nexus.local", "path": trim_prefix(who, "spiffe://nexus.local")},
	"model": "triage", "version": "", "policy": "nexus.models.triage", "purpose": purpose,
	"pii": {"classes": classes, "counts": {c: 1 | some c in classes}},
}})

# --- grants ---

test_granted_caller_allowed if {
	d := authz.allow with input as call(clinic, {})
	d.allowed == true
	d.headers["x-nexus-caller"] == clinic
}

test_caller_without_grant_denied if {
	d := authz.allow with input as call(stranger, {})
	d.allowed == false
	d.http_status == 403
	some r in d.reasons
	contains(r, "has no grant for model triage")
}

test_no_identity_denied if {
	inp := json.patch(call(clinic, {}), [{"op": "replace", "path": "/nexus/caller", "value": null}])
	d := authz.allow with input as inp
	d.allowed == false
	some r in d.reasons
	startswith(r, "no SPIFFE identity")
}

test_version_limited_grant_needs_pinned_version if {
	d := authz.allow with input as call(research, {})
	d.allowed == false
	some r in d.reasons
	contains(r, "only pinned to a granted version")
}

test_version_limited_grant_allows_granted_version if {
	inp := json.patch(call(research, {}), [{"op": "replace", "path": "/nexus/version", "value": "v2"}])
	d := authz.allow with input as inp
	d.allowed == true
}

test_version_limited_grant_denies_other_version if {
	inp := json.patch(call(research, {}), [{"op": "replace", "path": "/nexus/version", "value": "v1"}])
	d := authz.allow with input as inp
	d.allowed == false
}

test_unknown_model_denied if {
	inp := json.patch(call(clinic, {}), [{"op": "replace", "path": "/nexus/model", "value": "gpt-9"}])
	d := authz.allow with input as inp
	d.allowed == false
}

test_not_a_model_call_denied if {
	inp := json.patch(call(clinic, {}), [{"op": "replace", "path": "/nexus/model", "value": ""}])
	d := authz.allow with input as inp
	d.allowed == false
	some r in d.reasons
	startswith(r, "not a model call")
}

# --- personal data ---

test_blocked_class_denied_with_json_body_naming_classes if {
	d := authz.allow with input as with_pii(clinic, ["CREDIT_CARD", "EMAIL"], "")
	d.allowed == false
	d.http_status == 403
	d.headers["content-type"] == "application/json"
	body := json.unmarshal(d.body)
	body.error.code == "pii_blocked"
	body.error.blocked_classes == ["CREDIT_CARD"]
}

test_unblocked_class_allowed if {
	d := authz.allow with input as with_pii(clinic, ["EMAIL", "PHONE"], "")
	d.allowed == true
}

test_phi_with_purpose_and_phi_caller_allowed if {
	d := authz.allow with input as with_pii(clinic, ["MEDICAL_RECORD_NUMBER"], "treatment")
	d.allowed == true
}

test_phi_without_purpose_denied if {
	d := authz.allow with input as with_pii(clinic, ["MEDICAL_RECORD_NUMBER"], "")
	d.allowed == false
	some r in d.reasons
	contains(r, "declare a purpose with x-nexus-purpose")
}

test_phi_with_unknown_purpose_denied if {
	d := authz.allow with input as with_pii(clinic, ["DATE_OF_BIRTH"], "marketing")
	d.allowed == false
}

test_phi_for_caller_not_marked_denied if {
	inp := json.patch(with_pii(research, ["HEALTH_PLAN_ID"], "treatment"), [{"op": "replace", "path": "/nexus/version", "value": "v2"}])
	d := authz.allow with input as inp
	d.allowed == false
	some r in d.reasons
	contains(r, "is not allowed health data")
}

# --- admin paths ---

test_admin_path_needs_admin if {
	inp := json.patch(call(clinic, {}), [
		{"op": "replace", "path": "/attributes/request/http/path", "value": "/api/v1/admin/models"},
		{"op": "replace", "path": "/nexus/model", "value": ""},
	])
	d := authz.allow with input as inp
	d.allowed == false
	some r in d.reasons
	r == "admin paths need an admin identity"
}

test_admin_path_allowed_for_admin if {
	inp := json.patch(call(admin, {}), [
		{"op": "replace", "path": "/attributes/request/http/path", "value": "/api/v1/admin/models"},
		{"op": "replace", "path": "/nexus/model", "value": ""},
	])
	d := authz.allow with input as inp
	d.allowed == true
}

# --- per-model rules (nexus.models.triage) ---

test_model_rule_denies_large_max_tokens if {
	d := authz.allow with input as call(clinic, {"parsed_body": {"model": "triage", "max_tokens": 4096}})
	d.allowed == false
	some r in d.reasons
	contains(r, "limited to 2048 tokens")
}

test_model_rule_allows_small_max_tokens if {
	d := authz.allow with input as call(clinic, {"parsed_body": {"model": "triage", "max_tokens": 256}})
	d.allowed == true
}

# --- candidates ---

operator := "spiffe://nexus.local/ns/nexus/sa/operator"

pinned(who, version, state) := call(who, {"nexus": {
	"caller": {"spiffe_id": who, "trust_domain": "nexus.local", "path": trim_prefix(who, "spiffe://nexus.local")},
	"model": "triage", "version": version, "version_state": state, "policy": "nexus.models.triage", "purpose": "",
	"pii": {"classes": [], "counts": {}},
}})

test_candidate_smoke_test_only_for_operators if {
	d := authz.allow with input as pinned(clinic, "v3", "validated")
	d.allowed == false
	some r in d.reasons
	contains(r, "only an operator may call it pinned")
	o := authz.allow with input as pinned(operator, "v3", "validated")
	o.allowed == true
}

test_serving_version_pinned_by_anyone_granted if {
	d := authz.allow with input as pinned(clinic, "v1", "serving")
	d.allowed == true
}

# --- consent ---

pseudo := "5f1d3c0b8a7e6f4d2c1b0a9e8d7c6b5a"

with_subject(who, classes, purpose, subject) := json.patch(with_pii(who, classes, purpose), [{"op": "add", "path": "/nexus/subject", "value": subject}])

health_consent := {pseudo: {"research": [{"id": "c1", "categories": ["health"], "sharing": false, "expires_ns": 1}]}}

test_consent_allows_covered_purpose if {
	d := authz.allow with input as with_subject(clinic, ["MEDICAL_RECORD_NUMBER"], "research", pseudo)
		with data.nexus.consent as health_consent
	d.allowed == true
	not d.break_glass
}

test_consent_missing_data_denies if {
	d := authz.allow with input as with_subject(clinic, [], "research", pseudo)
		with data.nexus.consent as null
	d.allowed == false
	some r in d.reasons
	contains(r, "consent data is missing or stale")
}

test_consent_not_given_denies_without_naming_subject if {
	d := authz.allow with input as with_subject(clinic, [], "research", pseudo)
		with data.nexus.consent as {"0000": health_consent[pseudo]}
	d.allowed == false
	some r in d.reasons
	r == "the end user has not consented to purpose research"
	not contains(d.body, pseudo)
}

test_consent_needs_a_subject if {
	d := authz.allow with input as with_pii(clinic, [], "research")
		with data.nexus.consent as health_consent
	d.allowed == false
	some r in d.reasons
	contains(r, "no verified end-user subject")
}

test_consent_must_cover_the_categories_found if {
	d := authz.allow with input as with_subject(clinic, ["MEDICAL_RECORD_NUMBER", "EMAIL"], "research", pseudo)
		with data.nexus.consent as health_consent
	d.allowed == false
	some r in d.reasons
	r == "the end user's consent to purpose research does not cover the data this request carries (EMAIL)"
}

test_consent_by_class_name_and_across_categories if {
	c := {pseudo: {"research": [{"id": "c2", "categories": ["health", "EMAIL"], "sharing": false, "expires_ns": 1}]}}
	d := authz.allow with input as with_subject(clinic, ["MEDICAL_RECORD_NUMBER", "EMAIL"], "research", pseudo)
		with data.nexus.consent as c
	d.allowed == true
}

test_consent_for_another_purpose_does_not_count if {
	c := {pseudo: {"marketing": health_consent[pseudo].research}}
	d := authz.allow with input as with_subject(clinic, [], "research", pseudo)
		with data.nexus.consent as c
	d.allowed == false
}

test_purpose_without_consent_requirement_needs_no_consent if {
	d := authz.allow with input as with_subject(clinic, ["MEDICAL_RECORD_NUMBER"], "treatment", pseudo)
		with data.nexus.consent as null
	d.allowed == true
}

# --- break-glass ---

er := {"callers": {clinic: [{"id": "bg1", "model": "triage", "expires_ns": 1}]}, "subjects": {}}

test_break_glass_overrides_missing_consent_and_says_so if {
	d := authz.allow with input as with_subject(clinic, ["MEDICAL_RECORD_NUMBER"], "research", pseudo)
		with data.nexus.consent as null
		with data.nexus.breakglass as er
	d.allowed == true
	d.headers["x-nexus-break-glass"] == "bg1"
	d.headers["x-nexus-caller"] == clinic
	d.response_headers_to_add["x-nexus-break-glass"] == "bg1"
	d.break_glass.grants == ["bg1"]
	some r in d.break_glass.overridden
	contains(r, "consent data is missing or stale")
}

test_break_glass_overrides_phi_purpose_and_caller_checks if {
	inp := json.patch(with_pii(research, ["HEALTH_PLAN_ID"], ""), [{"op": "replace", "path": "/nexus/version", "value": "v2"}])
	d := authz.allow with input as inp
		with data.nexus.breakglass as {"callers": {research: [{"id": "bg2", "model": "triage", "expires_ns": 1}]}, "subjects": {}}
	d.allowed == true
	count(d.break_glass.overridden) == 2
}

test_break_glass_for_a_subject if {
	d := authz.allow with input as with_subject(clinic, [], "research", pseudo)
		with data.nexus.consent as {}
		with data.nexus.breakglass as {"callers": {}, "subjects": {pseudo: [{"id": "bg3", "model": "triage", "expires_ns": 1}]}}
	d.allowed == true
	d.break_glass.grants == ["bg3"]
}

test_break_glass_for_another_model_does_not_apply if {
	d := authz.allow with input as with_subject(clinic, [], "research", pseudo)
		with data.nexus.consent as {}
		with data.nexus.breakglass as {"callers": {clinic: [{"id": "bg4", "model": "radiology", "expires_ns": 1}]}, "subjects": {}}
	d.allowed == false
	not d.break_glass
}

test_break_glass_never_overrides_grants_or_identity if {
	d := authz.allow with input as call(stranger, {})
		with data.nexus.breakglass as {"callers": {stranger: [{"id": "bg5", "model": "triage", "expires_ns": 1}]}, "subjects": {}}
	d.allowed == false
	d.headers["x-nexus-break-glass"] == "bg5"
	some r in d.reasons
	contains(r, "has no grant for model triage")

	inp := json.patch(with_subject(clinic, [], "research", pseudo), [{"op": "replace", "path": "/nexus/caller", "value": null}])
	d2 := authz.allow with input as inp
		with data.nexus.breakglass as {"callers": {}, "subjects": {pseudo: [{"id": "bg6", "model": "triage", "expires_ns": 1}]}}
	d2.allowed == false
	some r2 in d2.reasons
	startswith(r2, "no SPIFFE identity")
}
