package envoy.authz

default allow = false

allow if {
	not input.truncated_body
}
