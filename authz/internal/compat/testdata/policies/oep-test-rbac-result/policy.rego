package envoy.authz

import input.attributes.request.http as http_request

default allow = false

allow if {
	roles_for_user[r]
	required_roles[r]
}

allow if {
	input.parsed_path = ["my", "test", "path"]
	input.parsed_query.a = ["1", "2"]
	input.parsed_query.x = ["y"]
}

allow if {
	input.parsed_body.firstname == "foo"
	input.parsed_body.lastname == "bar"
	input.parsed_body.dept.it == "eng"
}

roles_for_user[r] if {
	r := user_roles[user_name][_]
}

required_roles[r] if {
	perm := role_perms[r][_]
	perm.method = http_request.method
	perm.path = http_request.path
}

user_name = parsed if {
	[_, encoded] := split(http_request.headers.authorization, " ")
	[parsed, _] := split(base64url.decode(encoded), ":")
}

user_roles = {
	"alice": ["guest"],
	"bob": ["admin"]
}

role_perms = {
	"guest": [
		{"method": "GET",  "path": "/productpage"},
	],
	"admin": [
		{"method": "GET",  "path": "/productpage"},
		{"method": "GET",  "path": "/api/v1/products"},
	],
}

result.allowed = allow

result.headers = {
  "foo": "bar",
  "baz": "qux",
}

result.request_headers_to_remove = ["foo", "bar", "baz", "qux"]

result.query_parameters_to_remove = ["foo", "bar", "baz", "qux"]

result.query_parameters_to_set = {
  "foo": "bar",
  "baz": ["qux", "quux"]
}

result.response_headers_to_add = {
  "foo": "bar",
  "baz": "qux",
}
