//go:build wasip1

// Command piiguard is the proxy-wasm filter, built as a reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o piiguard.wasm ./cmd/piiguard
package main

import (
	"github.com/secureai-nexus/nexus/filters/piiguard"
	"github.com/secureai-nexus/nexus/filters/proxywasm"
)

func init() {
	proxywasm.Start(func() proxywasm.Plugin { return &piiguard.Plugin{} })
}

func main() {}
