//go:build wasip1

// Command piiguard is the proxy-wasm filter, built as a reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o piiguard.wasm ./cmd/piiguard
package main

import (
	"os"
	"runtime/debug"

	"github.com/secureai-nexus/nexus/filters/piiguard"
	"github.com/secureai-nexus/nexus/filters/proxywasm"
)

// defaultGCPercent is the guest's GOGC unless the VM's environment sets
// one (Envoy's vm_config.environment_variables). The guest collects inside
// whichever callback allocates when its heap reaches its goal; at Go's
// default of 100 that is about one 16 KiB request in fifty, and those
// requests are the p99. At 400 it is one in a few hundred, for a guest
// heap that stays flat at about 22 MiB instead of 10 (docs/benchmarks.md,
// "Under V8").
const defaultGCPercent = 400

func init() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
	proxywasm.Start(func() proxywasm.Plugin { return &piiguard.Plugin{} })
}

func main() {}
