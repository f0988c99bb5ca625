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

allow := object.union({
	"allowed": true,
	"headers": {"x-nexus-caller": caller},
}, break_glass_fields) if {
	count(deny) == 0
}

allow := object.union({
	"allowed": false,
	"http_status": 403,
	"headers": {"content-type": "application/json"},
	"body": json.marshal(error_body),
	"reasons": sort(deny),
}, break_glass_fields) if {
	count(deny) > 0
}

# Every decision a break-glass grant touches says so: to the model (and,
# allowed, to the client) in x-nexus-break-glass, and to the decision log
# in break_glass, with the denials it overrode.
break_glass_fields := {
	"headers": {"x-nexus-break-glass": concat(",", sort(break_glass_grants))},
	"response_headers_to_add": {"x-nexus-break-glass": concat(",", sort(break_glass_grants))},
	"break_glass": {"grants": sort(break_glass_grants), "overridden": sort(deny_overridable)},
} if {
	count(break_glass_grants) > 0
} else := {}

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

deny_overridable contains msg if {
	count(phi_found) > 0
	not nexus.purpose in data.nexus.purposes
	msg := sprintf("request carries health data (%s): declare a purpose with x-nexus-purpose (%s)", [concat(", ", sort(phi_found)), concat("|", data.nexus.purposes)])
}

deny_overridable contains msg if {
	count(phi_found) > 0
	not phi_allowed
	msg := sprintf("caller %s is not allowed health data (%s)", [caller, concat(", ", sort(phi_found))])
}

# --- consent -----------------------------------------------------------------

# A purpose listed in data.nexus.consent_required_purposes needs the end
# user's consent: the control plane publishes active consents as
# data.nexus.consent[<subject id>][<purpose>] (a list of grants, each with
# the data categories it covers), keyed by the keyed hash nexus-authz puts
# in nexus.subject. Expired and revoked consents are never published, and
# nexus-authz drops the whole document when it has not heard from the
# control plane within its staleness bound, so a missing document denies.
# Reasons name the purpose and the categories, never the subject.
consent_required if nexus.purpose in data.nexus.consent_required_purposes

has_subject if {
	is_string(nexus.subject)
	nexus.subject != ""
}

# The control plane always publishes an object, empty or not; anything
# else is no consent data at all.
consent_loaded if is_object(data.nexus.consent)

consent_grants := data.nexus.consent[nexus.subject][nexus.purpose]

covers(g, class) if class in g.categories

covers(g, class) if {
	some cat in g.categories
	class in data.nexus.data_categories[cat]
}

covers_request(g) if {
	every c in nexus.pii.classes {
		covers(g, c)
	}
}

consent_given if {
	some g in consent_grants
	covers_request(g)
}

deny_overridable contains msg if {
	consent_required
	not has_subject
	msg := sprintf("purpose %s needs the end user's consent, and the call carries no verified end-user subject (a JWT, and nexus-authz's subject key)", [nexus.purpose])
}

deny_overridable contains msg if {
	consent_required
	has_subject
	not consent_loaded
	msg := sprintf("purpose %s needs the end user's consent, and consent data is missing or stale: nexus-authz has not heard from the control plane within its staleness bound", [nexus.purpose])
}

deny_overridable contains msg if {
	consent_required
	has_subject
	consent_loaded
	not consent_grants
	msg := sprintf("the end user has not consented to purpose %s", [nexus.purpose])
}

deny_overridable contains msg if {
	consent_required
	consent_grants
	not consent_given
	uncovered := {c | some c in nexus.pii.classes; not some_grant_covers(c)}
	msg := sprintf("the end user's consent to purpose %s does not cover the data this request carries (%s)", [nexus.purpose, concat(", ", sort(uncovered_or_all(uncovered)))])
}

some_grant_covers(c) if {
	some g in consent_grants
	covers(g, c)
}

# No single grant covers every class though each is covered by one.
uncovered_or_all(u) := u if count(u) > 0

else := {c | some c in nexus.pii.classes}

# --- break-glass (emergency access) -------------------------------------------

# A break-glass grant — for a caller, or for one end user's requests — on
# this model overrides the consent and purpose denials above (never the
# identity, grant, blocked-class or per-model ones). Only active grants
# are published.
break_glass_grants contains g.id if {
	some g in data.nexus.breakglass.callers[caller]
	g.model == nexus.model
}

break_glass_grants contains g.id if {
	has_subject
	some g in data.nexus.breakglass.subjects[nexus.subject]
	g.model == nexus.model
}

deny contains msg if {
	some msg in deny_overridable
	count(break_glass_grants) == 0
}

# --- per-model rules ---------------------------------------------------------

# The mesh names a Rego package per model (policy: nexus.models.<model>);
# its "deny" reasons join these.
deny contains msg if {
	name := trim_prefix(nexus.policy, "nexus.models.")
	some msg in data.nexus.models[name].deny
}
