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
