package envoy.authz

default allow = true

query_parameters_to_set := {
	"foo": "value1",
	"bar": ["value2", "value3"]
}

result["allowed"] = allow
result["query_parameters_to_set"] = query_parameters_to_set
