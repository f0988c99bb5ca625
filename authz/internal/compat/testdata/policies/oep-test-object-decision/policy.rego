package envoy.authz

default allow = {
  "allowed": false,
  "headers": {"foo": "bar", "baz": "taz"},
  "body": "Unauthorized Request",
  "http_status": 301,
  "dynamic_metadata": {"test": "foo", "bar": "baz"}
}

allow = response if {
	input.parsed_path = ["my", "test", "path"]
    response := {
		"allowed": true,
		"headers": {"x": "hello", "y": "world"},
		"dynamic_metadata": {"test": "foo", "bar": "baz"}
    }
}
