package xds

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
)

const (
	typeListener = resourcev3.ListenerType
	typeRoute    = resourcev3.RouteType
	typeCluster  = resourcev3.ClusterType
	typeEndpoint = resourcev3.EndpointType
	typeSecret   = resourcev3.SecretType
)

// NodeStatus is what `istioctl proxy-status` shows for a sidecar.
type NodeStatus struct {
	Connected bool
	Streams   int
	// Acked is the last version the node ACKed, by short type name.
	Acked map[string]string
	// Nacked is the last version the node rejected, by short type name,
	// with Envoy's error message; cleared by a later ACK of that type.
	Nacked map[string]Nack
	// LastSeen is when the node last sent a request.
	LastSeen time.Time
}

// Nack is one rejected push.
type Nack struct {
	Version string    `json:"version"`
	Error   string    `json:"error"`
	At      time.Time `json:"at"`
}

// tracker implements go-control-plane's callbacks to follow each stream's
// node and the fate of every response sent on it.
type tracker struct {
	serverv3.CallbackFuncs
	log *slog.Logger
	now func() time.Time

	mu      sync.Mutex
	streams map[int64]*stream
	nodes   map[string]*NodeStatus
	// onAck, when set, is told of every ACK (tests and benchmarks wait on it).
	onAck func(node, typeURL, version string)
	// obs, when set, records answers as spans and metrics.
	obs *observer
}

type stream struct {
	node string
	// sent maps a response nonce to the version it carried.
	sent map[string]string
}

var _ serverv3.Callbacks = (*tracker)(nil)

func newTracker(log *slog.Logger) *tracker {
	return &tracker{log: log, now: time.Now, streams: map[int64]*stream{}, nodes: map[string]*NodeStatus{}}
}

func (t *tracker) OnStreamOpen(_ context.Context, id int64, _ string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.streams[id] = &stream{sent: map[string]string{}}
	return nil
}

func (t *tracker) OnStreamClosed(id int64, _ *core.Node) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st, ok := t.streams[id]
	delete(t.streams, id)
	if !ok || st.node == "" {
		return
	}
	if ns := t.nodes[st.node]; ns != nil {
		ns.Streams--
		ns.Connected = ns.Streams > 0
		if !ns.Connected {
			t.log.Info("sidecar disconnected", "node", st.node)
		}
	}
}

func (t *tracker) OnStreamRequest(id int64, req *discovery.DiscoveryRequest) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	st, ok := t.streams[id]
	if !ok {
		return nil
	}
	// Envoy sends the node only on a stream's first request.
	if st.node == "" {
		node := nodeID(req.GetNode())
		if node == "" {
			return nil
		}
		st.node = node
		ns := t.node(node)
		ns.Streams++
		if !ns.Connected {
			t.log.Info("sidecar connected", "node", node, "stream", id)
		}
		ns.Connected = true
	}
	ns := t.node(st.node)
	ns.LastSeen = t.now()
	nonce := req.GetResponseNonce()
	if nonce == "" {
		return nil
	}
	version, sent := st.sent[nonce]
	if !sent {
		return nil
	}
	delete(st.sent, nonce)
	typ := TypeName(req.GetTypeUrl())
	if detail := req.GetErrorDetail(); detail != nil {
		ns.Nacked[typ] = Nack{Version: version, Error: detail.GetMessage(), At: t.now()}
		t.obs.answered(st.node, typ, version, detail.GetMessage())
		t.log.Warn("sidecar rejected config (NACK)",
			"node", st.node, "type", typ, "version", version,
			"kept_version", req.GetVersionInfo(), "error", detail.GetMessage(),
			"resources", req.GetResourceNames())
		return nil
	}
	ns.Acked[typ] = version
	delete(ns.Nacked, typ)
	t.obs.answered(st.node, typ, version, "")
	if t.onAck != nil {
		t.onAck(st.node, req.GetTypeUrl(), version)
	}
	return nil
}

func (t *tracker) OnStreamResponse(_ context.Context, id int64, _ *discovery.DiscoveryRequest, resp *discovery.DiscoveryResponse) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if st, ok := t.streams[id]; ok {
		st.sent[resp.GetNonce()] = resp.GetVersionInfo()
	}
}

func (t *tracker) node(id string) *NodeStatus {
	ns, ok := t.nodes[id]
	if !ok {
		ns = &NodeStatus{Acked: map[string]string{}, Nacked: map[string]Nack{}}
		t.nodes[id] = ns
	}
	return ns
}

// connected counts the nodes with an open stream.
func (t *tracker) connected() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, ns := range t.nodes {
		if ns.Connected {
			n++
		}
	}
	return n
}

func (t *tracker) get(id string) NodeStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	ns, ok := t.nodes[id]
	if !ok {
		return NodeStatus{Acked: map[string]string{}, Nacked: map[string]Nack{}}
	}
	out := *ns
	out.Acked = maps.Clone(ns.Acked)
	out.Nacked = maps.Clone(ns.Nacked)
	return out
}
