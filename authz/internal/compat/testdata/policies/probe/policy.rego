# The differential suite's probe (Nexus-made, for internal/compat). Its
# decision object echoes what the policy sees of the input into denial
# headers and body (and, when allowed, into dynamic metadata), so a
# difference in how the input is built shows up in the CheckResponse as
# well as in the decision log. It also calls builtins that fail on some
# inputs (base64url.decode of a malformed token, json.unmarshal of what is
# not JSON, to_number("abc")), so non-strict builtin errors — the failing
# call is undefined, the rest of the decision stands — are covered, and a
# rule that conflicts on ?conflict, so an evaluation error is too.
package envoy.authz

http := object.get(input, ["attributes", "request", "http"], {})

default allowed := false

# Requests under /allow are allowed, so the OK response's fields are
# covered as well as the denial's.
allowed if input.parsed_path[0] == "allow"

result["allowed"] := allowed

result["headers"] := headers

result["body"] := json.marshal(echo) if not allowed

result["http_status"] := status if not allowed

result["dynamic_metadata"] := dynamic_metadata

result["response_headers_to_add"] := {"x-probe-allowed": "yes", "x-probe-list": ["a", "b"]} if allowed

result["request_headers_to_remove"] := ["authorization", "x-remove-me"] if allowed

result["query_parameters_to_set"] := {"probe": "1", "multi": ["x", "y"]} if allowed

result["query_parameters_to_remove"] := ["drop"] if allowed

result["conflict"] := conflict

headers["x-probe-method"] := http.method

headers["x-probe-path"] := concat("/", input.parsed_path)

headers["x-probe-principal"] := input.source_principal

headers["x-probe-truncated"] := sprintf("%v", [input.truncated_body])

headers["x-probe-body-type"] := type_name(input.parsed_body)

headers["x-probe-version"] := sprintf("%s/%s", [input.version.ext_authz, input.version.encoding])

headers["x-probe-size-type"] := type_name(http.size)

headers["x-probe-time-type"] := type_name(input.attributes.request.time)

# Fails (or, non-strict, is undefined) for a token whose middle part is not
# base64url JSON.
headers["x-probe-claims-sub"] := claims.sub

# to_number("abc") fails; so does format_int of a non-number.
headers["x-probe-n"] := format_int(to_number(input.parsed_query.n[0]), 10)

# A list of values: a header per value.
headers["x-probe-multi"] := input.parsed_query.m

claims := json.unmarshal(base64url.decode(parts[1])) if {
	parts := split(trim_prefix(http.headers.authorization, "Bearer "), ".")
}

default status := 403

# ?status=418 sets the denial status; ?status=abc fails in to_number,
# ?status=999 and ?status=1.5 are not statuses Envoy can send.
status := to_number(input.parsed_query.status[0]) if not input.parsed_query.status_raw

# ?status_raw=403 makes http_status a string, which is not a number.
status := input.parsed_query.status_raw[0] if input.parsed_query.status_raw

conflict = "one" if input.parsed_query.conflict

conflict = "two" if input.parsed_query.conflict

dynamic_metadata := {
	"probe": {
		"int": 1,
		"float": 1.5,
		"big": 12345678901234567890,
		"negative": -3,
		"nested": {"list": [1, "two", true, null]},
	},
	"parsed_path": input.parsed_path,
} if not allowed

dynamic_metadata := {"echo": echo} if allowed

# small keeps the echo of a huge value to its type and size.
small(x) := x if count(json.marshal(x)) <= 2048

small(x) := {"type": type_name(x), "json_chars": count(json.marshal(x))} if count(json.marshal(x)) > 2048

get(path) := small(object.get(input, path, "~absent~"))

echo := {
	"parsed_path": get(["parsed_path"]),
	"parsed_query": get(["parsed_query"]),
	"parsed_body": get(["parsed_body"]),
	"truncated_body": get(["truncated_body"]),
	"version": get(["version"]),
	"source_principal": get(["source_principal"]),
	"attributes_keys": {k | some k, _ in object.get(input, "attributes", {})},
	"http_keys": {k | some k, _ in http},
	"time": get(["attributes", "request", "time"]),
	"id": get(["attributes", "request", "http", "id"]),
	"method": get(["attributes", "request", "http", "method"]),
	"host": get(["attributes", "request", "http", "host"]),
	"path": get(["attributes", "request", "http", "path"]),
	"scheme": get(["attributes", "request", "http", "scheme"]),
	"size": get(["attributes", "request", "http", "size"]),
	"protocol": get(["attributes", "request", "http", "protocol"]),
	"raw_body": get(["attributes", "request", "http", "rawBody"]),
	"header_map": get(["attributes", "request", "http", "headerMap"]),
	"source": get(["attributes", "source"]),
	"destination": get(["attributes", "destination"]),
	"context_extensions": get(["attributes", "contextExtensions"]),
	"metadata_context": get(["attributes", "metadataContext"]),
	"route_metadata_context": get(["attributes", "routeMetadataContext"]),
	"tls_session": get(["attributes", "tlsSession"]),
	"types": {
		"size": type_name(object.get(http, "size", null)),
		"time": type_name(object.get(input, ["attributes", "request", "time"], null)),
		"raw_body": type_name(object.get(http, "rawBody", null)),
		"port": type_name(object.get(input, ["attributes", "source", "address", "socketAddress", "portValue"], null)),
		"parsed_body": type_name(object.get(input, "parsed_body", null)),
	},
}
