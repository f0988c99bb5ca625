package envoy.authz

import input.attributes.request.http as http_request

default allow = false

allow if {
    action_allowed
}

action_allowed if {
  http_request.method == "GET"
}
