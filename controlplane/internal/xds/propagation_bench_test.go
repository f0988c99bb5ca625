package xds_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	sotw "github.com/envoyproxy/go-control-plane/pkg/client/sotw/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/secureai-nexus/nexus/controlplane/internal/admin"
	"github.com/secureai-nexus/nexus/controlplane/internal/controller"
	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
	"github.com/secureai-nexus/nexus/controlplane/internal/xds"
)

// BenchmarkPropagation measures, over real gRPC on loopback, the time from
// the admin API's response to PUT .../traffic until every subscribed ADS
// client (go-control-plane's client, one stream each, 50 per connection) has
// received and ACKed the new routes. clients=1 is the baseline of the same
// run. Reported: ms from the PUT response to the last ACK, p50/p99 of the
// per-client receive latency (from the PUT request), and the control
// plane's heap with all clients connected.
func BenchmarkPropagation(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) { benchPropagation(b, n) })
	}
}

func benchPropagation(b *testing.B, clients int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := mesh.LoadFile("../translate/testdata/canary.in.yaml")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	st, err := store.OpenSQLite(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	xs := xds.NewServer(log)
	ctrl, err := controller.New(ctx, log, m, st, xs, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	auth, err := admin.LoadOrCreateToken(filepath.Join(dir, "admin.token"))
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := os.ReadFile(filepath.Join(dir, "admin.token"))
	api := httptest.NewServer((&admin.API{Log: log, Auth: auth, Ctrl: ctrl, Status: xs, Audit: st}).Handler())
	defer api.Close()

	var (
		mu      sync.Mutex
		want    string
		acks    atomic.Int64
		allAckd = make(chan struct{}, 1)
	)
	xs.SetAckHook(func(node, typeURL, version string) {
		if typeURL != resourcev3.RouteType {
			return
		}
		mu.Lock()
		w := want
		mu.Unlock()
		if version == w && acks.Add(1) == int64(clients) {
			allAckd <- struct{}{}
		}
	})

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = xs.Serve(ctx, lis) }()

	var ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms1)

	recv := make([]atomic.Int64, clients) // unix nanos of the latest routes received
	var conns []*grpc.ClientConn
	ready := make(chan struct{}, clients)
	for i := 0; i < clients; i++ {
		if i%50 == 0 {
			c, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c)
		}
		ads := sotw.NewADSClient(ctx, &core.Node{Id: "model~triage", Cluster: "nexus"}, resourcev3.RouteType)
		if err := ads.InitConnect(conns[len(conns)-1]); err != nil {
			b.Fatal(err)
		}
		go func(i int) {
			first := true
			for {
				if _, err := ads.Fetch(); err != nil {
					return
				}
				recv[i].Store(time.Now().UnixNano())
				if err := ads.Ack(); err != nil {
					return
				}
				if first {
					ready <- struct{}{}
					first = false
				}
			}
		}(i)
	}
	for i := 0; i < clients; i++ {
		<-ready
	}
	defer func() {
		cancel()
		for _, c := range conns {
			c.Close()
		}
	}()
	var ms2 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms2)

	var toLast, p50s, p99s []float64
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		v1 := 10 + i%80
		mu.Lock()
		acks.Store(0)
		want = ""
		mu.Unlock()
		// Compute the version the push will carry before sending, so the
		// hook counts only ACKs of the new routes.
		next := m.WithWeights("triage", map[string]uint32{"v1": uint32(v1), "v2": uint32(100 - v1)})
		if err := publishVersionOf(next, &mu, &want); err != nil {
			b.Fatal(err)
		}
		req, _ := http.NewRequest("PUT", api.URL+"/api/v1/admin/models/triage/traffic",
			strings.NewReader(fmt.Sprintf(`{"weights":{"v1":%d,"v2":%d}}`, v1, 100-v1)))
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		req.Header.Set("Content-Type", "application/json")
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("PUT = %d", resp.StatusCode)
		}
		responded := time.Now()
		select {
		case <-allAckd:
		case <-time.After(30 * time.Second):
			b.Fatalf("only %d of %d clients ACKed", acks.Load(), clients)
		}
		last := time.Now()
		toLast = append(toLast, float64(last.Sub(responded).Microseconds())/1000)
		lat := make([]float64, clients)
		for c := range recv {
			lat[c] = float64(time.Duration(recv[c].Load()-start.UnixNano()).Microseconds()) / 1000
		}
		slices.Sort(lat)
		p50s = append(p50s, lat[len(lat)/2])
		p99s = append(p99s, lat[(len(lat)*99)/100-boolInt(len(lat) > 1)])
	}
	b.StopTimer()
	b.ReportMetric(maxOf(toLast), "ms-put-response-to-last-ack(max)")
	b.ReportMetric(mean(p50s), "ms-recv-p50")
	b.ReportMetric(mean(p99s), "ms-recv-p99")
	b.ReportMetric(float64(ms2.HeapInuse-ms1.HeapInuse)/(1<<20), "MiB-heap-for-clients")
}

// publishVersionOf computes the routes version a mesh will be published
// with, exactly as the server does.
func publishVersionOf(m *mesh.Mesh, mu *sync.Mutex, want *string) error {
	probe := xds.NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := probe.Publish(context.Background(), m); err != nil {
		return err
	}
	mu.Lock()
	*want = probe.Versions("model~triage")["routes"]
	mu.Unlock()
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func maxOf(xs []float64) float64 {
	var m float64
	for _, x := range xs {
		if x > m {
			m = x
		}
	}
	return m
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
