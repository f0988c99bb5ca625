// Package oms signs and verifies machine-learning models in the OpenSSF
// Model Signing format, OMS v1.0 (the format of sigstore/model-transparency
// and its model_signing tool).
//
// A signature is a Sigstore bundle (v0.3) holding a DSSE envelope whose
// payload is an in-toto Statement v1 with predicate type
// https://model_signing/signature/v1.0. The predicate records how the
// model directory was serialized (method "files" or "shards", hash type,
// shard size, whether symlinks were followed, the ignored paths) and lists
// every file, or every shard "path:start:end", with its digest, sorted. The
// statement's one subject is the model (its directory's base name) with
// the SHA-256 over the listed digests, raw and concatenated, as digest.
//
// The walk and hashing are this package's own (Manifest), following the
// reference implementation: paths relative with "/", sorted component by
// component; .git, .gitattributes, .github, .gitignore and the signature
// file left out by default; symbolic links refused unless allowed, and
// then followed but never out of the directory nor round a cycle; files
// hashed as streams, a few at a time; an empty file has no shards.
//
// Signature checks are sigstore-go's (v1.3.0). Three trust methods:
//
//   - key: a public key; the bundle names it by a hint, hex SHA-256 of
//     the key's PEM encoding (as model_signing writes it; the hex SHA-256
//     of the DER encoding is accepted too). No transparency log.
//   - certificate: CA certificates; the bundle's signing certificate must
//     chain to one of them (through intermediates in the bundle) at the
//     current time. No transparency log.
//   - sigstore (keyless): a Sigstore trusted root; the Fulcio certificate
//     must chain to its CA, carry an SCT from its CT log, name the
//     required identity and OIDC issuer, and the signature must be in its
//     Rekor log (inclusion proof and signed entry timestamp, checked
//     offline).
//
// Verify checks the signature before it reads the model, then re-hashes
// the directory with the recorded serialization: a missing, changed or
// unlisted file fails with a *MismatchError naming each.
//
// Tests: hand-made models for the walk and hashing; key- and
// certificate-method bundles made by Sign and SignWithCertificate with
// keys and CAs generated at test time; model_signing's own v1.0/v1.1
// conformance bundles (key, certificate and keyless, the keyless one made
// against the public Sigstore instance), read from outside the repository
// when NEXUS_OMS_CONFORMANCE_DIR names where they are. A
// keyless signature cannot be made here: that needs Fulcio, Rekor and an
// OIDC token, none reachable offline, so keyless is tested on the stored
// bundle and for its refusals. npm's @sigstore/verify checks our bundles
// as a foreign verifier when NEXUS_SIGSTORE_VERIFY_DIR names a directory
// where it is installed.
package oms
