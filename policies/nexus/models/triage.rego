# Rules for the triage model only (the mesh's policy: nexus.models.triage).
package nexus.models.triage

import rego.v1

max_tokens := 2048

deny contains msg if {
	input.parsed_body.max_tokens > max_tokens
	msg := sprintf("triage answers are limited to %d tokens", [max_tokens])
}

deny contains "triage does not take streaming requests from research callers" if {
	input.parsed_body.stream == true
	startswith(input.nexus.caller.path, "/ns/research/")
}
