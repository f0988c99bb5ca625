// Package compat is nexus-authz's differential suite against
// opa-envoy-plugin: the same CheckRequests, under the same policies, must
// get the same answers and build the same policy input.
//
// testdata holds:
//
//   - requests-opa-envoy-plugin.jsonl: the CheckRequest fixtures of
//     opa-envoy-plugin's own tests, re-expressed as protojson (each line
//     says where it came from);
//   - requests-generated.jsonl: about 480 more, written by
//     internal/gen (go run ./internal/compat/internal/gen -out
//     internal/compat/testdata, from the authz module);
//   - proto/: the gRPC services the application/grpc fixtures call, as
//     .proto text and as the descriptor set compat.pb (built by
//     internal/protoset);
//   - policies/<name>/: opa-envoy-plugin's and OPA's example policies,
//     unchanged, each with a SOURCE.md, and the Nexus-made probe;
//     runs.json says which decision path, Rego version and descriptor set
//     each run uses, and whether it has opa-envoy-plugin's dry-run or
//     skip-request-body-parse (dry_run, skip_request_body_parse);
//   - expected/<run>.jsonl: what opa-envoy-plugin answered each fixture
//     under that run (a CheckResponse as protojson, or a gRPC error), and
//     expected/inputs.jsonl: the input document it built for each fixture
//     (null where it refused to build one), read from its console
//     decision log during the probe run.
//
// TestGolden and TestInputGolden (part of make test) start nexus-authz
// in-process and compare it with expected/. TestLive runs the real
// opa-envoy-plugin binary beside it:
//
//	OPA_ENVOY_BIN=/path/to/opa-envoy go test -tags live ./internal/compat -run TestLive
//
// compares the two live, and with -update rewrites testdata/expected from
// the live opa-envoy-plugin:
//
//	OPA_ENVOY_BIN=/path/to/opa-envoy go test -tags live ./internal/compat -run TestLive -update
//
// What is compared, and what is deliberately not, is stated once, in
// normalize.go.
package compat
