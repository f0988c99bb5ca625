package envoy.authz

default allow = 1
