module github.com/secureai-nexus/nexus/filters

go 1.26.8

require (
	github.com/tetratelabs/proxy-wasm-go-sdk v0.24.0
	github.com/tetratelabs/wazero v1.7.2
)
