package envoy.authz

default allow = true

query_parameters_to_remove := ["foo", "bar"]

result["allowed"] = allow
result["query_parameters_to_remove"] = query_parameters_to_remove
