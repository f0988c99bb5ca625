# Nexus-made, not from the docs: the docs' "Output Document" snippet
# (result.rego) reads query_parameters_to_remove, which the "Additional
# Controls" policy (policy.rego) does not define, so the two together do
# not compile. This defines it as always undefined, which is what the
# snippet expects of a variable a policy does not set ("any variables with
# undefined values simply have no key in the result object").
package envoy.authz

query_parameters_to_remove := input.no_such_member
