package xds_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	sotw "github.com/envoyproxy/go-control-plane/pkg/client/sotw/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/xds"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T) (*xds.Server, *mesh.Mesh, *grpc.ClientConn, *syncBuffer) {
	t.Helper()
	m, err := mesh.LoadFile("../translate/testdata/canary.in.yaml")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	srv := xds.NewServer(slog.New(slog.NewTextHandler(logs, nil)))
	srv.SetSecretSource(newAuthority(t, m))
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Publish(ctx, m); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return srv, m, conn, logs
}

// subscribe opens a go-control-plane ADS client for one type and returns
// its first response.
func subscribe(t *testing.T, ctx context.Context, conn *grpc.ClientConn, node, typeURL string) (sotw.ADSClient, *sotw.Response) {
	t.Helper()
	c := sotw.NewADSClient(ctx, &core.Node{Id: node, Cluster: "nexus"}, typeURL)
	if err := c.InitConnect(conn); err != nil {
		t.Fatal(err)
	}
	resp := fetch(t, c)
	return c, resp
}

func fetch(t *testing.T, c sotw.ADSClient) *sotw.Response {
	t.Helper()
	type result struct {
		r   *sotw.Response
		err error
	}
	ch := make(chan result, 1)
	go func() { r, err := c.Fetch(); ch <- result{r, err} }()
	select {
	case res := <-ch:
		if res.err != nil {
			t.Fatal(res.err)
		}
		return res.r
	case <-time.After(10 * time.Second):
		t.Fatal("no response from the xDS server within 10s")
	}
	return nil
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestADSClientReceivesEveryTypeAndAcks uses go-control-plane's own ADS
// client: it gets listeners, routes, clusters and endpoints, ACKs each, and
// the server's node status shows the ACKed versions.
func TestADSClientReceivesEveryTypeAndAcks(t *testing.T) {
	srv, _, conn, _ := start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	want := map[string]int{
		resourcev3.ListenerType: 1,
		resourcev3.RouteType:    1,
		resourcev3.ClusterType:  4, // v1, v2, the candidate v3, ext_authz
		resourcev3.EndpointType: 3,
		resourcev3.SecretType:   2, // the node's SVID and the bundle
	}
	for typ, n := range want {
		c, resp := subscribe(t, ctx, conn, "model~triage", typ)
		if len(resp.Resources) != n {
			t.Errorf("%s: got %d resources, want %d", typ, len(resp.Resources), n)
		}
		for _, r := range resp.Resources {
			if r.GetTypeUrl() != typ {
				t.Errorf("resource of type %s on a %s stream", r.GetTypeUrl(), typ)
			}
		}
		if err := c.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "all five types ACKed", func() bool {
		st := srv.Status("model~triage")
		return st.Connected && len(st.Acked) == 5
	})
	st := srv.Status("model~triage")
	for typ, v := range srv.Versions("model~triage") {
		if st.Acked[typ] != v {
			t.Errorf("%s: acked %q, published %q", typ, st.Acked[typ], v)
		}
	}
}

// TestWeightChangeReachesClient: a new split is pushed as routes only, and
// the client ACKs it.
func TestWeightChangeReachesClient(t *testing.T) {
	srv, m, conn, _ := start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	routes, _ := subscribe(t, ctx, conn, "model~triage", resourcev3.RouteType)
	if err := routes.Ack(); err != nil {
		t.Fatal(err)
	}
	clusters, _ := subscribe(t, ctx, conn, "model~triage", resourcev3.ClusterType)
	if err := clusters.Ack(); err != nil {
		t.Fatal(err)
	}
	before := srv.Versions("model~triage")

	if err := srv.Publish(ctx, m.WithWeights("triage", map[string]uint32{"v1": 50, "v2": 50})); err != nil {
		t.Fatal(err)
	}
	resp := fetch(t, routes)
	rc := &route.RouteConfiguration{}
	if err := resp.Resources[0].UnmarshalTo(rc); err != nil {
		t.Fatal(err)
	}
	got := map[string]uint32{}
	for _, r := range rc.GetVirtualHosts()[0].GetRoutes() {
		for _, c := range r.GetRoute().GetWeightedClusters().GetClusters() {
			got[c.GetName()] = c.GetWeight().GetValue()
		}
	}
	if got["model|triage|v1"] != 50 || got["model|triage|v2"] != 50 {
		t.Fatalf("pushed weights = %v, want 50/50", got)
	}
	if err := routes.Ack(); err != nil {
		t.Fatal(err)
	}
	after := srv.Versions("model~triage")
	if after["routes"] == before["routes"] || after["clusters"] != before["clusters"] || after["listeners"] != before["listeners"] {
		t.Errorf("only the routes version should change: before %v after %v", before, after)
	}
	waitFor(t, "new routes ACKed", func() bool { return srv.Status("model~triage").Acked["routes"] == after["routes"] })

	// Publishing the same mesh again changes no version, so nothing is sent.
	if err := srv.Publish(ctx, m.WithWeights("triage", map[string]uint32{"v1": 50, "v2": 50})); err != nil {
		t.Fatal(err)
	}
	if v := srv.Versions("model~triage"); v["routes"] != after["routes"] {
		t.Errorf("republishing the same mesh changed the routes version")
	}
	ch := make(chan struct{})
	go func() { _, _ = routes.Fetch(); close(ch) }()
	select {
	case <-ch:
		t.Error("an unchanged mesh caused a push")
	case <-time.After(300 * time.Millisecond):
	}
}

// TestNackIsLoggedAndIsolated: one node rejects a push; the NACK is logged
// with the node, type and Envoy's message, shows in its status, and the
// other node keeps receiving updates.
func TestNackIsLoggedAndIsolated(t *testing.T) {
	srv, m, conn, logs := start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	bad, _ := subscribe(t, ctx, conn, "service~frontdesk", resourcev3.RouteType)
	if err := bad.Nack("route: unknown cluster outbound|triage"); err != nil {
		t.Fatal(err)
	}
	good, _ := subscribe(t, ctx, conn, "model~triage", resourcev3.RouteType)
	if err := good.Ack(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "NACK recorded", func() bool { return len(srv.Status("service~frontdesk").Nacked) == 1 })
	n := srv.Status("service~frontdesk").Nacked["routes"]
	if n.Error != "route: unknown cluster outbound|triage" || n.Version != srv.Versions("service~frontdesk")["routes"] {
		t.Errorf("nack = %+v", n)
	}
	log := logs.String()
	for _, want := range []string{"NACK", "node=service~frontdesk", "type=routes", "unknown cluster"} {
		if !strings.Contains(log, want) {
			t.Errorf("log does not mention %q:\n%s", want, log)
		}
	}
	if err := srv.Publish(ctx, m.WithWeights("triage", map[string]uint32{"v1": 0, "v2": 100})); err != nil {
		t.Fatal(err)
	}
	fetch(t, good)
	if err := good.Ack(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the healthy node ACKs the next push", func() bool {
		return srv.Status("model~triage").Acked["routes"] == srv.Versions("model~triage")["routes"]
	})
}

// TestUnknownNodeGetsNothing: a node id the mesh does not define is served
// no resources.
func TestUnknownNodeGetsNothing(t *testing.T) {
	_, _, conn, _ := start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := sotw.NewADSClient(ctx, &core.Node{Id: "model~intruder"}, resourcev3.ClusterType)
	if err := c.InitConnect(conn); err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{})
	go func() { _, _ = c.Fetch(); close(ch) }()
	select {
	case <-ch:
		t.Error("an unknown node was sent resources")
	case <-time.After(300 * time.Millisecond):
	}
}

// TestDisconnectShowsInStatus: closing the stream marks the node
// disconnected.
func TestDisconnectShowsInStatus(t *testing.T) {
	srv, _, conn, _ := start(t)
	ctx, cancel := context.WithCancel(context.Background())
	c, _ := subscribe(t, ctx, conn, "model~triage", resourcev3.ListenerType)
	if err := c.Ack(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "connected", func() bool { return srv.Status("model~triage").Connected })
	cancel()
	waitFor(t, "disconnected", func() bool { return !srv.Status("model~triage").Connected })
}
