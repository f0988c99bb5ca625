package piiguard_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/secureai-nexus/nexus/filters/piiguard"
	"github.com/secureai-nexus/nexus/filters/transform"
)

// BenchmarkGuestOwnHost runs one request (headers, then the whole body)
// through the compiled filter on the minimal wazero host of the memory
// test, whose host functions are a few lines each, so the figure is the
// guest's own cost rather than the SDK emulator's. The baseline, measured
// in the same run, is transform.Apply natively on the same body: the work
// the guest does per request.
func BenchmarkGuestOwnHost(b *testing.B) {
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	h := &soakHost{config: []byte(config)}
	h.instantiate(ctx, b, r)
	compiled, err := r.CompileModule(ctx, wasmModule(b))
	if err != nil {
		b.Fatal(err)
	}
	mod, err := r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig())
	if err != nil {
		b.Fatal(err)
	}
	call := func(name string, args ...uint64) {
		if _, err := h.export(mod, name).Call(ctx, args...); err != nil {
			b.Fatalf("%s: %v", name, err)
		}
	}
	call("proxy_on_context_create", 1, 0)
	call("proxy_on_configure", 1, uint64(len(h.config)))
	policy, _, err := piiguard.ParseConfig([]byte(config))
	if err != nil {
		b.Fatal(err)
	}
	id := uint64(2)
	for _, size := range []int{1 << 10, 16 << 10, 256 << 10} {
		body := chatBody(size)
		b.Run(fmt.Sprintf("wasm/%dKiB", size>>10), func(b *testing.B) {
			var lat []float64
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				h.reqHeaders = [][2]string{{":method", "POST"}, {"content-type", "application/json"}, {"content-length", "1"}}
				h.reqBody = body
				call("proxy_on_context_create", id, 1)
				t0 := time.Now()
				call("proxy_on_request_headers", id, 3, 0)
				call("proxy_on_request_body", id, uint64(len(body)), 1)
				lat = append(lat, float64(time.Since(t0).Nanoseconds())/1000)
				call("proxy_on_log", id)
				call("proxy_on_delete", id)
				id++
			}
			report(b, lat)
		})
		b.Run(fmt.Sprintf("native-apply/%dKiB", size>>10), func(b *testing.B) {
			var lat []float64
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				t0 := time.Now()
				if _, err := transform.Apply(policy, body, true); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, float64(time.Since(t0).Nanoseconds())/1000)
			}
			report(b, lat)
		})
	}
}

func report(b *testing.B, lat []float64) {
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)/2], "µs-p50")
	b.ReportMetric(lat[len(lat)*99/100], "µs-p99")
}
