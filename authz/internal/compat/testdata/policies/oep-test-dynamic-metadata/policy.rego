package envoy.authz

default allow = false

allow if {
	input.parsed_path = ["my", "test", "path"]
}

dynamic_metadata["foo"] = "bar"
dynamic_metadata["bar"] = "baz"

result["allowed"] = allow
result["dynamic_metadata"] = dynamic_metadata
