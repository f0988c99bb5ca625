package envoy.authz

default allow = false

missingId := true if not input.source_principal

allow if {
	not missingId
	input.source_principal == "spiffe://test-domain/test"
}

result.allowed = allow
