package envoy.authz

default allow = false

allow if {
	input.parsed_path = ["my", "test", "path"]
}

response_headers_to_add["x"] = ["hello", "world"]

result["allowed"] = allow
result["response_headers_to_add"] = response_headers_to_add
