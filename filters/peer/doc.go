// Package peer measures filters/scan against foreign detectors' own test
// material: Presidio's recognizer test cases and gitleaks' rule examples,
// kept as JSONL fixtures in testdata/ (make peer.update regenerates them),
// and benchmarks gitleaks' detector against the scanner on the same input.
package peer
