package compliance

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	extauthz "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	wasmfilter "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	wasmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"

	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/translate"
)

// The checks in this file walk the Envoy resources actually published,
// not the mesh they came from: a translation bug that drops a TLS context
// shows here even though the mesh file is right.

// checkMTLS requires every hop that leaves a node to be mutual TLS: each
// upstream cluster presents the node's SVID from SDS and verifies the
// peer's SAN against the SDS trust bundle, and each listener's filter
// chains require a client certificate. Loopback hops (the app's own
// plaintext leg, which never leaves the host) are listed but allowed; the
// JWKS fetch to a public issuer must be server-verified TLS.
func checkMTLS(nodes map[string]*translate.Resources) Result {
	if len(nodes) == 0 {
		return Result{Summary: "the xDS snapshot is empty: no node has been published", Violations: []string{"no published node"}}
	}
	var res Result
	var clusters, chains int
	for _, id := range slices.Sorted(maps.Keys(nodes)) {
		r := nodes[id]
		eds := map[string]*endpoint.ClusterLoadAssignment{}
		for _, e := range r.Endpoints {
			eds[e.GetClusterName()] = e
		}
		for _, c := range r.Clusters {
			clusters++
			ev, bad := clusterTLS(id, c, eds[c.GetName()])
			res.Evidence = append(res.Evidence, ev)
			if bad != "" {
				res.Violations = append(res.Violations, bad)
			}
		}
		for _, l := range r.Listeners {
			fcs := l.GetFilterChains()
			if l.GetDefaultFilterChain() != nil {
				fcs = append(slices.Clone(fcs), l.GetDefaultFilterChain())
			}
			if len(fcs) == 0 {
				res.Violations = append(res.Violations, fmt.Sprintf("node %s listener %s has no filter chain", id, l.GetName()))
			}
			for _, fc := range fcs {
				chains++
				ev, bad := chainTLS(id, l, fc)
				res.Evidence = append(res.Evidence, ev)
				if bad != "" {
					res.Violations = append(res.Violations, bad)
				}
			}
		}
	}
	res.Satisfied = len(res.Violations) == 0
	res.Summary = fmt.Sprintf("%d nodes, %d upstream clusters and %d listener filter chains examined; %d not mutual TLS", len(nodes), clusters, chains, len(res.Violations))
	return res
}

const tlsSocket = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3."

func clusterTLS(node string, c *cluster.Cluster, eds *endpoint.ClusterLoadAssignment) (evidence, violation string) {
	where := fmt.Sprintf("node %s cluster %s", node, c.GetName())
	ts := c.GetTransportSocket()
	if ts == nil {
		addrs := endpointAddrs(c.GetLoadAssignment())
		addrs = append(addrs, endpointAddrs(eds)...)
		if len(addrs) > 0 && !slices.ContainsFunc(addrs, func(a string) bool { return !isLoopback(a) }) {
			return where + ": plaintext to loopback " + strings.Join(addrs, ", ") + " (never leaves the host)", ""
		}
		return where + ": plaintext", where + " sends plaintext to " + orNone(addrs)
	}
	var ctx tlsv3.UpstreamTlsContext
	if ts.GetTypedConfig().GetTypeUrl() != tlsSocket+"UpstreamTlsContext" || ts.GetTypedConfig().UnmarshalTo(&ctx) != nil {
		return where + ": transport socket " + ts.GetTypedConfig().GetTypeUrl(), where + " has a transport socket that is not an UpstreamTlsContext"
	}
	common := ctx.GetCommonTlsContext()
	if weak := weakTLS(common); weak != "" {
		return where + ": " + weak, where + ": " + weak
	}
	if c.GetName() == translate.ClusterJWKS {
		// The token issuer is outside the mesh and has no SVID to ask for;
		// what matters is that its certificate is verified.
		vc := common.GetValidationContext()
		if vc.GetTrustedCa() == nil || len(vc.GetMatchTypedSubjectAltNames()) == 0 {
			return where + ": TLS without server verification", where + " does not verify the token issuer's certificate and name"
		}
		return where + ": TLS to the public token issuer, verified against " + vc.GetTrustedCa().GetFilename() + " (outside the mesh: no client certificate)", ""
	}
	certs := common.GetTlsCertificateSdsSecretConfigs()
	if len(certs) == 0 {
		return where + ": TLS without a client certificate", where + " presents no client certificate from SDS"
	}
	peers, bundle := peerValidation(common)
	if bundle == "" || len(peers) == 0 {
		return where + ": TLS without peer verification", where + " does not verify the peer's SPIFFE id against the SDS trust bundle"
	}
	return fmt.Sprintf("%s: mTLS, client certificate %s (SDS), peer %s verified against %s", where, certs[0].GetName(), strings.Join(peers, " | "), bundle), ""
}

func chainTLS(node string, l *listener.Listener, fc *listener.FilterChain) (evidence, violation string) {
	where := fmt.Sprintf("node %s listener %s chain %s", node, l.GetName(), fc.GetName())
	ts := fc.GetTransportSocket()
	if ts == nil {
		addr := socketAddr(l.GetAddress())
		if isLoopback(addr) {
			return where + ": plaintext on loopback " + addr + " (the app's own leg; never leaves the host)", ""
		}
		return where + ": plaintext", where + " accepts plaintext on " + addr
	}
	var ctx tlsv3.DownstreamTlsContext
	if ts.GetTypedConfig().GetTypeUrl() != tlsSocket+"DownstreamTlsContext" || ts.GetTypedConfig().UnmarshalTo(&ctx) != nil {
		return where + ": transport socket " + ts.GetTypedConfig().GetTypeUrl(), where + " has a transport socket that is not a DownstreamTlsContext"
	}
	if !ctx.GetRequireClientCertificate().GetValue() {
		return where + ": TLS, client certificate optional", where + " does not require a client certificate"
	}
	common := ctx.GetCommonTlsContext()
	if weak := weakTLS(common); weak != "" {
		return where + ": " + weak, where + ": " + weak
	}
	if len(common.GetTlsCertificateSdsSecretConfigs()) == 0 {
		return where + ": no server certificate from SDS", where + " presents no SVID from SDS"
	}
	peers, bundle := peerValidation(common)
	if bundle == "" || len(peers) == 0 {
		return where + ": client certificate not verified against the trust bundle", where + " does not verify callers' SPIFFE ids against the SDS trust bundle"
	}
	return fmt.Sprintf("%s: mTLS, client certificate required, callers %s verified against %s", where, strings.Join(peers, " | "), bundle), ""
}

// weakTLS names a TLS version floor below 1.2.
func weakTLS(c *tlsv3.CommonTlsContext) string {
	v := c.GetTlsParams().GetTlsMinimumProtocolVersion()
	if v == tlsv3.TlsParameters_TLSv1_0 || v == tlsv3.TlsParameters_TLSv1_1 {
		return "allows " + v.String()
	}
	return ""
}

// peerValidation returns the SAN matchers and the SDS bundle name peers
// are verified with.
func peerValidation(c *tlsv3.CommonTlsContext) (peers []string, bundle string) {
	cv := c.GetCombinedValidationContext()
	if cv == nil {
		return nil, ""
	}
	for _, m := range cv.GetDefaultValidationContext().GetMatchTypedSubjectAltNames() {
		switch {
		case m.GetMatcher().GetExact() != "":
			peers = append(peers, m.GetMatcher().GetExact())
		case m.GetMatcher().GetPrefix() != "":
			peers = append(peers, m.GetMatcher().GetPrefix()+"*")
		}
	}
	return peers, cv.GetValidationContextSdsSecretConfig().GetName()
}

// checkExtAuthzFailClosed requires the ext_authz filter, failing closed,
// on every filter chain of every model node's listeners, ahead of the
// router.
func checkExtAuthzFailClosed(nodes map[string]*translate.Resources) Result {
	return walkModelHCMs(nodes, "ext_authz", func(where string, f *hcm.HttpFilter) (string, string) {
		var ea extauthz.ExtAuthz
		if f.GetTypedConfig().UnmarshalTo(&ea) != nil {
			return where + ": ext_authz config unreadable", where + ": ext_authz config is not an ExtAuthz message"
		}
		if ea.GetFailureModeAllow() {
			return where + ": ext_authz failure_mode_allow true", where + ": ext_authz fails open (failure_mode_allow: true)"
		}
		status := ea.GetStatusOnError().GetCode().String()
		if ea.GetStatusOnError() == nil {
			status = "403 (Envoy's default)"
		}
		return fmt.Sprintf("%s: ext_authz failure_mode_allow false, status on error %s", where, status), ""
	}, translate.FilterExtAuthz)
}

// checkPIIFilterFailClosed requires piiguard, failing closed, on every
// model listener: a filter that cannot start must not let unscanned
// bodies reach the model.
func checkPIIFilterFailClosed(nodes map[string]*translate.Resources) Result {
	return walkModelHCMs(nodes, "piiguard", func(where string, f *hcm.HttpFilter) (string, string) {
		var w wasmfilter.Wasm
		if f.GetTypedConfig().UnmarshalTo(&w) != nil || w.GetConfig().GetRootId() != translate.PIIGuardRootID {
			return where + ": wasm filter is not piiguard", where + ": the wasm filter is not piiguard"
		}
		if w.GetConfig().GetFailurePolicy() != wasmv3.FailurePolicy_FAIL_CLOSED {
			return where + ": piiguard failure policy " + w.GetConfig().GetFailurePolicy().String(), where + ": piiguard does not fail closed (failure_policy " + w.GetConfig().GetFailurePolicy().String() + ")"
		}
		return where + ": piiguard failure policy FAIL_CLOSED", ""
	}, translate.FilterWasm)
}

// walkModelHCMs finds the HTTP filter named name on every filter chain of
// every model node's listeners, before the router, and judges it.
func walkModelHCMs(nodes map[string]*translate.Resources, what string, judge func(where string, f *hcm.HttpFilter) (string, string), name string) Result {
	if len(nodes) == 0 {
		return Result{Summary: "the xDS snapshot is empty: no node has been published", Violations: []string{"no published node"}}
	}
	var res Result
	chains := 0
	prefix := string(mesh.RoleModel) + "~"
	for _, id := range slices.Sorted(maps.Keys(nodes)) {
		if !strings.HasPrefix(id, prefix) {
			continue
		}
		for _, l := range nodes[id].Listeners {
			for _, fc := range l.GetFilterChains() {
				chains++
				where := fmt.Sprintf("node %s listener %s chain %s", id, l.GetName(), fc.GetName())
				conn, ok := chainHCM(fc)
				if !ok {
					res.Violations = append(res.Violations, where+": no HTTP connection manager to carry "+what)
					continue
				}
				found := false
				for _, f := range conn.GetHttpFilters() {
					if f.GetName() == translate.FilterRouter {
						break
					}
					if f.GetName() == name {
						found = true
						ev, bad := judge(where, f)
						res.Evidence = append(res.Evidence, ev)
						if bad != "" {
							res.Violations = append(res.Violations, bad)
						}
					}
				}
				if !found {
					res.Evidence = append(res.Evidence, where+": no "+what+" filter before the router")
					res.Violations = append(res.Violations, where+": no "+what+" filter before the router")
				}
			}
		}
	}
	if chains == 0 {
		res.Satisfied = true
		res.Summary = "no model listener in the snapshot: the mesh serves no model"
		return res
	}
	res.Satisfied = len(res.Violations) == 0
	res.Summary = fmt.Sprintf("%d model listener filter chains examined; %d without %s failing closed", chains, len(res.Violations), what)
	return res
}

func chainHCM(fc *listener.FilterChain) (*hcm.HttpConnectionManager, bool) {
	for _, f := range fc.GetFilters() {
		if f.GetName() != translate.FilterHCM {
			continue
		}
		var conn hcm.HttpConnectionManager
		if f.GetTypedConfig().UnmarshalTo(&conn) == nil {
			return &conn, true
		}
	}
	return nil, false
}

func endpointAddrs(la *endpoint.ClusterLoadAssignment) []string {
	var out []string
	for _, l := range la.GetEndpoints() {
		for _, e := range l.GetLbEndpoints() {
			out = append(out, socketAddr(e.GetEndpoint().GetAddress()))
		}
	}
	return out
}

func socketAddr(a *core.Address) string {
	sa := a.GetSocketAddress()
	return fmt.Sprintf("%s:%d", sa.GetAddress(), sa.GetPortValue())
}

func isLoopback(hostport string) bool {
	host := hostport
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 {
		host = hostport[:i]
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "(no endpoint)"
	}
	return strings.Join(s, ", ")
}
