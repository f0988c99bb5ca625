package workloadapi_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	goworkload "github.com/spiffe/go-spiffe/v2/workloadapi"
)

// BenchmarkRotationFanOut: n go-spiffe clients watch the Workload API; one
// rotation is pushed; the metric is the time until the last client has the
// new SVID. n=1 is the baseline for the ratio.
func BenchmarkRotationFanOut(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			src := newSource(b)
			sock, ctx := serve(b, src)
			var mu sync.Mutex
			latest := make([]string, n)
			for i := range n {
				c, err := goworkload.New(ctx, goworkload.WithAddr("unix://"+sock))
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { c.Close() })
				go func() {
					_ = c.WatchX509Context(ctx, watcher(func(x *goworkload.X509Context) {
						mu.Lock()
						latest[i] = x.DefaultSVID().Certificates[0].SerialNumber.String()
						mu.Unlock()
					}))
				}()
			}
			current := func() string {
				s, _, _ := src.Current()
				return s.Certificates[0].SerialNumber.String()
			}
			waitAll := func(want string) {
				for {
					mu.Lock()
					done := true
					for _, s := range latest {
						if s != want {
							done = false
							break
						}
					}
					mu.Unlock()
					if done {
						return
					}
					time.Sleep(100 * time.Microsecond)
				}
			}
			waitAll(current())
			var total time.Duration
			b.ResetTimer()
			for b.Loop() {
				t0 := time.Now()
				src.rotate(b)
				waitAll(current())
				total += time.Since(t0)
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms-to-last-client")
		})
	}
}
