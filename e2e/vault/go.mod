module github.com/secureai-nexus/nexus/e2e/vault

go 1.26.8

// Vault's in-process test core needs this SDK; the newer one it would pick
// does not build with v1.21.4.
replace github.com/hashicorp/vault/sdk => github.com/hashicorp/vault/sdk v0.20.0
