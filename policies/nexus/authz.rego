# Nexus's default decision for every call through a model sidecar.
#
# Deny unless a grant lets the caller (by SPIFFE id pattern) call this model
# and version and no rule below objects. The decision is an opa-envoy-plugin
# object: allowed, http_status, headers, body — plus "reasons" for the
# decision log.
package envoy.authz

import rego.v1

nexus := input.nexus

# Read the request's fields by name rather than taking the whole http
# object: nexus-authz keys its decision cache by the input paths a policy
# reads, and the whole object includes the request id.
request_path := input.attributes.request.http.path

caller := nexus.caller.spiffe_id

allow := {
	"allowed": true,
	"headers": {"x-nexus-caller": caller},
} if {
	count(deny) == 0
}

allow := {
	"allowed": false,
	"http_status": 403,
	"headers": {"content-type": "application/json"},
	"body": json.marshal(error_body),
	"reasons": sort(deny),
} if {
	count(deny) > 0
}

error_body := {"error": {
	"code": "pii_blocked",
	"message": concat("; ", sort(deny)),
	"blocked_classes": sort(blocked_found),
}} if {
	count(blocked_found) > 0
} else := {"error": {
	"code": "forbidden",
	"message": concat("; ", sort(deny)),
}}

# --- who is calling -------------------------------------------------------

deny contains "no SPIFFE identity: the call must come over mTLS from a mesh workload" if {
	not caller
}

# --- which requests are model calls or admin calls ------------------------

model_call if nexus.model != ""

admin_path if startswith(request_path, "/api/v1/admin")

admin_path if input.parsed_path[0] == "admin"

is_admin if caller in data.nexus.admins

deny contains "admin paths need an admin identity" if {
	admin_path
	not is_admin
}

deny contains "not a model call: no model named for this request" if {
	not model_call
	not admin_path
}

# --- grants: which callers may call which models and versions -------------

# Grants are keyed by caller pattern: an exact SPIFFE id, "<parent>/*" for
# any workload directly under a path, or "spiffe://<trust-domain>/**" for
# every workload of the trust domain. Looking up the three patterns a caller
# can match keeps a decision's cost independent of how many grants exist.
caller_patterns := {
	caller,
	regex.replace(caller, "/[^/]*$", "/*"),
	concat("", ["spiffe://", nexus.caller.trust_domain, "/**"]),
}

matching_grants contains g if {
	some p in caller_patterns
	g := data.nexus.grants[p]
	some m in g.models
	m in {"*", nexus.model}
}

# A grant limited to some versions needs the caller to pin one of them
# (x-nexus-model-version): with a weighted split the version is only chosen
# after this decision.
version_ok(g) if "*" in g.versions

version_ok(g) if {
	nexus.version != ""
	nexus.version in g.versions
}

granted if {
	some g in matching_grants
	version_ok(g)
}

deny contains msg if {
	model_call
	caller
	count(matching_grants) == 0
	msg := sprintf("caller %s has no grant for model %s", [caller, nexus.model])
}

deny contains msg if {
	model_call
	count(matching_grants) > 0
	not granted
	msg := sprintf("caller %s may call model %s only pinned to a granted version (x-nexus-model-version)", [caller, nexus.model])
}

# --- candidates: versions that are not serving yet -------------------------

# A request pinned to a version that is registered, verified or validated
# but not serving is a smoke test of a candidate at weight 0: only an
# operator may send one (data.nexus.operators, or an admin).
is_operator if caller in data.nexus.operators

is_operator if is_admin

deny contains msg if {
	model_call
	nexus.version != ""
	nexus.version_state in {"registered", "verified", "validated", "retired"}
	not is_operator
	msg := sprintf("version %s of model %s is %s: only an operator may call it pinned (smoke test)", [nexus.version, nexus.model, nexus.version_state])
}

# --- personal data ---------------------------------------------------------

blocked_classes := {c | some c in data.nexus.blocked_classes}

blocked_found contains c if {
	some c in nexus.pii.classes
	c in blocked_classes
}

deny contains msg if {
	count(blocked_found) > 0
	msg := sprintf("request carries personal data of blocked classes: %s", [concat(", ", sort(blocked_found))])
}

# Health data (PHI) needs a declared purpose and a caller marked for it:
# HIPAA's minimum necessary.
phi_found contains c if {
	some c in nexus.pii.classes
	c in data.nexus.phi_classes
}

phi_allowed if {
	some g in matching_grants
	g.phi == true
}

deny contains msg if {
	count(phi_found) > 0
	not nexus.purpose in data.nexus.purposes
	msg := sprintf("request carries health data (%s): declare a purpose with x-nexus-purpose (%s)", [concat(", ", sort(phi_found)), concat("|", data.nexus.purposes)])
}

deny contains msg if {
	count(phi_found) > 0
	not phi_allowed
	msg := sprintf("caller %s is not allowed health data (%s)", [caller, concat(", ", sort(phi_found))])
}

# --- per-model rules ---------------------------------------------------------

# The mesh names a Rego package per model (policy: nexus.models.<model>);
# its "deny" reasons join these.
deny contains msg if {
	name := trim_prefix(nexus.policy, "nexus.models.")
	some msg in data.nexus.models[name].deny
}
