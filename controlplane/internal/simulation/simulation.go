// Package simulation walks a synthetic request through generated Envoy
// resources the way Envoy would — listener, filter chain and its TLS
// requirements, HTTP filters, route configuration, virtual host, route,
// weighted cluster, endpoints — and reports where it lands. Envoy cannot run
// on the build machines, so this is how tests show the config does the right
// thing, not only that it is well-formed (after Istio's pilot/pkg/simulation).
//
// It models the subset of Envoy matching that Nexus generates and says so
// when it meets anything else, rather than guessing.
package simulation

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthz "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// Config is what one node was served.
type Config struct {
	Listeners []*listener.Listener
	Routes    []*route.RouteConfiguration
	Clusters  []*cluster.Cluster
	Endpoints []*endpoint.ClusterLoadAssignment
}

// Request is a synthetic downstream request.
type Request struct {
	// Port is the destination port of the connection.
	Port uint32
	// TLS says whether the client starts TLS.
	TLS bool
	// CallerID is the URI SAN of the client certificate; empty means the
	// client presents none.
	CallerID string
	Method   string
	Host     string
	Path     string
	// Headers are lower-case request headers, as filters before the router
	// left them (piiguard sets x-nexus-model, for instance).
	Headers map[string]string
	// Draw picks among weighted clusters as Envoy's random draw does: the
	// first cluster whose running weight total exceeds Draw wins.
	Draw uint32
}

// Result is where the request went.
type Result struct {
	Listener    string
	FilterChain string
	// HTTPFilters are the HTTP filters the request passed, in order.
	HTTPFilters []string
	RouteConfig string
	VirtualHost string
	Route       string
	// Weights are the weighted clusters of the route, by cluster name.
	Weights map[string]uint32
	// Cluster is the upstream cluster chosen.
	Cluster   string
	Endpoints []string
	// UpstreamPeerIDs are the SPIFFE ids the upstream must present; empty
	// for a plaintext upstream.
	UpstreamPeerIDs []string
	// UpstreamSVID is the secret the sidecar presents upstream.
	UpstreamSVID string
	// DirectStatus is set when the route answers directly.
	DirectStatus uint32
	DirectBody   string
	// RequestHeaders are the headers the route and cluster add.
	RequestHeaders map[string]string
	// AuthzContext is the ext_authz context_extensions for this route.
	AuthzContext map[string]string
	// AuthzFailOpen reports ext_authz's failure_mode_allow.
	AuthzFailOpen bool
}

// Error explains why a request did not make it through.
type Error struct {
	Stage string
	Msg   string
}

func (e *Error) Error() string { return e.Stage + ": " + e.Msg }

func fail(stage, format string, args ...any) *Error {
	return &Error{Stage: stage, Msg: fmt.Sprintf(format, args...)}
}

// Run walks req through cfg.
func Run(cfg Config, req Request) (*Result, error) {
	res := &Result{RequestHeaders: map[string]string{}}
	l := findListener(cfg.Listeners, req.Port)
	if l == nil {
		return nil, fail("listener", "no listener on port %d", req.Port)
	}
	res.Listener = l.GetName()

	fc, err := matchFilterChain(l, req)
	if err != nil {
		return nil, err
	}
	res.FilterChain = fc.GetName()

	conn, err := httpConnectionManager(fc)
	if err != nil {
		return nil, err
	}
	for _, f := range conn.GetHttpFilters() {
		res.HTTPFilters = append(res.HTTPFilters, f.GetName())
		if f.GetName() == "envoy.filters.http.ext_authz" {
			ea := &extauthz.ExtAuthz{}
			if err := f.GetTypedConfig().UnmarshalTo(ea); err != nil {
				return nil, fail("http_filters", "ext_authz config: %v", err)
			}
			res.AuthzFailOpen = ea.GetFailureModeAllow()
		}
	}
	rdsName := conn.GetRds().GetRouteConfigName()
	if rdsName == "" {
		return nil, fail("http_connection_manager", "only RDS route configs are simulated")
	}
	res.RouteConfig = rdsName
	var rc *route.RouteConfiguration
	for _, r := range cfg.Routes {
		if r.GetName() == rdsName {
			rc = r
		}
	}
	if rc == nil {
		return nil, fail("rds", "route config %q was not served", rdsName)
	}

	host := strings.ToLower(req.Host)
	if conn.GetStripAnyHostPort() {
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
	}
	vh := matchVirtualHost(rc.GetVirtualHosts(), host)
	if vh == nil {
		return nil, fail("virtual_host", "no virtual host for %q", host)
	}
	res.VirtualHost = vh.GetName()

	rt := matchRoute(vh.GetRoutes(), req)
	if rt == nil {
		return nil, fail("route", "no route in %s matches %s %s", vh.GetName(), req.Method, req.Path)
	}
	res.Route = rt.GetName()
	if err := authzContext(rt, res); err != nil {
		return nil, err
	}
	for _, h := range rt.GetRequestHeadersToAdd() {
		res.RequestHeaders[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
	}

	switch a := rt.GetAction().(type) {
	case *route.Route_DirectResponse:
		res.DirectStatus = a.DirectResponse.GetStatus()
		res.DirectBody = a.DirectResponse.GetBody().GetInlineString()
		return res, nil
	case *route.Route_Route:
		if err := pickCluster(a.Route, req.Draw, res); err != nil {
			return nil, err
		}
	default:
		return nil, fail("route", "action %T is not simulated", a)
	}

	var c *cluster.Cluster
	for _, cl := range cfg.Clusters {
		if cl.GetName() == res.Cluster {
			c = cl
		}
	}
	if c == nil {
		return nil, fail("cluster", "cluster %q was not served", res.Cluster)
	}
	cla := c.GetLoadAssignment()
	if c.GetType() == cluster.Cluster_EDS {
		cla = nil
		for _, e := range cfg.Endpoints {
			if e.GetClusterName() == c.GetName() {
				cla = e
			}
		}
		if cla == nil {
			return nil, fail("eds", "no endpoints were served for cluster %q", c.GetName())
		}
	}
	for _, le := range cla.GetEndpoints() {
		for _, lb := range le.GetLbEndpoints() {
			sa := lb.GetEndpoint().GetAddress().GetSocketAddress()
			res.Endpoints = append(res.Endpoints, net.JoinHostPort(sa.GetAddress(), strconv.Itoa(int(sa.GetPortValue()))))
		}
	}
	if len(res.Endpoints) == 0 {
		return nil, fail("eds", "cluster %q has no endpoints", c.GetName())
	}
	if ts := c.GetTransportSocket(); ts != nil {
		up := &tlsv3.UpstreamTlsContext{}
		if err := ts.GetTypedConfig().UnmarshalTo(up); err != nil {
			return nil, fail("cluster", "%s transport socket: %v", c.GetName(), err)
		}
		for _, sds := range up.GetCommonTlsContext().GetTlsCertificateSdsSecretConfigs() {
			res.UpstreamSVID = sds.GetName()
		}
		for _, san := range up.GetCommonTlsContext().GetCombinedValidationContext().GetDefaultValidationContext().GetMatchTypedSubjectAltNames() {
			res.UpstreamPeerIDs = append(res.UpstreamPeerIDs, san.GetMatcher().GetExact())
		}
	}
	return res, nil
}

func findListener(ls []*listener.Listener, port uint32) *listener.Listener {
	for _, l := range ls {
		if l.GetAddress().GetSocketAddress().GetPortValue() == port {
			return l
		}
	}
	return nil
}

// matchFilterChain picks the chain for the connection and enforces its
// downstream TLS: a required client certificate, and the SAN matchers.
func matchFilterChain(l *listener.Listener, req Request) (*listener.FilterChain, error) {
	proto := "raw_buffer"
	if req.TLS {
		proto = "tls"
	}
	var fc *listener.FilterChain
	for _, c := range l.GetFilterChains() {
		want := c.GetFilterChainMatch().GetTransportProtocol()
		if want == "" || want == proto {
			fc = c
			break
		}
	}
	if fc == nil {
		fc = l.GetDefaultFilterChain()
	}
	if fc == nil {
		return nil, fail("filter_chain", "no filter chain of %s matches a %s connection; Envoy closes it", l.GetName(), proto)
	}
	ts := fc.GetTransportSocket()
	if ts == nil {
		if req.TLS {
			return nil, fail("filter_chain", "%s expects plaintext; TLS handshake fails", fc.GetName())
		}
		return fc, nil
	}
	down := &tlsv3.DownstreamTlsContext{}
	if err := ts.GetTypedConfig().UnmarshalTo(down); err != nil {
		return nil, fail("filter_chain", "transport socket: %v", err)
	}
	if req.CallerID == "" {
		if down.GetRequireClientCertificate().GetValue() {
			return nil, fail("tls", "client certificate required; handshake fails")
		}
		return fc, nil
	}
	sans := down.GetCommonTlsContext().GetCombinedValidationContext().GetDefaultValidationContext().GetMatchTypedSubjectAltNames()
	if len(sans) == 0 {
		return fc, nil
	}
	for _, s := range sans {
		if s.GetSanType() == tlsv3.SubjectAltNameMatcher_URI && stringMatch(s.GetMatcher(), req.CallerID) {
			return fc, nil
		}
	}
	return nil, fail("tls", "client SPIFFE id %s matches no allowed SAN; handshake fails", req.CallerID)
}

func httpConnectionManager(fc *listener.FilterChain) (*hcm.HttpConnectionManager, error) {
	for _, f := range fc.GetFilters() {
		if f.GetName() != "envoy.filters.network.http_connection_manager" {
			continue
		}
		conn := &hcm.HttpConnectionManager{}
		if err := f.GetTypedConfig().UnmarshalTo(conn); err != nil {
			return nil, fail("http_connection_manager", "%v", err)
		}
		return conn, nil
	}
	return nil, fail("filter_chain", "%s has no HTTP connection manager", fc.GetName())
}

// matchVirtualHost follows Envoy's order: exact domain, then the longest
// suffix wildcard, then the longest prefix wildcard, then "*".
func matchVirtualHost(vhs []*route.VirtualHost, host string) *route.VirtualHost {
	var best *route.VirtualHost
	bestRank, bestLen := 0, -1
	for _, vh := range vhs {
		for _, d := range vh.GetDomains() {
			d = strings.ToLower(d)
			rank, n := 0, 0
			switch {
			case d == host:
				rank, n = 4, len(d)
			case d == "*":
				rank = 1
			case strings.HasPrefix(d, "*") && strings.HasSuffix(host, d[1:]) && len(host) > len(d)-1:
				rank, n = 3, len(d)
			case strings.HasSuffix(d, "*") && strings.HasPrefix(host, d[:len(d)-1]) && len(host) > len(d)-1:
				rank, n = 2, len(d)
			}
			if rank > bestRank || rank == bestRank && rank > 0 && n > bestLen {
				best, bestRank, bestLen = vh, rank, n
			}
		}
	}
	return best
}

func matchRoute(routes []*route.Route, req Request) *route.Route {
	path, _, _ := strings.Cut(req.Path, "?")
	for _, r := range routes {
		m := r.GetMatch()
		switch p := m.GetPathSpecifier().(type) {
		case *route.RouteMatch_Prefix:
			if !strings.HasPrefix(path, p.Prefix) {
				continue
			}
		case *route.RouteMatch_Path:
			if path != p.Path {
				continue
			}
		default:
			continue
		}
		if headersMatch(m.GetHeaders(), req) {
			return r
		}
	}
	return nil
}

func headersMatch(hms []*route.HeaderMatcher, req Request) bool {
	for _, hm := range hms {
		name := strings.ToLower(hm.GetName())
		var v string
		var ok bool
		switch name {
		case ":method":
			v, ok = req.Method, req.Method != ""
		case ":path":
			v, ok = req.Path, true
		case ":authority":
			v, ok = req.Host, true
		default:
			v, ok = req.Headers[name]
		}
		var m bool
		switch s := hm.GetHeaderMatchSpecifier().(type) {
		case *route.HeaderMatcher_StringMatch:
			m = ok && stringMatch(s.StringMatch, v)
		case *route.HeaderMatcher_PresentMatch:
			m = ok == s.PresentMatch
		default:
			return false
		}
		if m == hm.GetInvertMatch() {
			return false
		}
	}
	return true
}

func stringMatch(m *matcher.StringMatcher, v string) bool {
	if m.GetIgnoreCase() {
		v = strings.ToLower(v)
	}
	switch p := m.GetMatchPattern().(type) {
	case *matcher.StringMatcher_Exact:
		return v == p.Exact
	case *matcher.StringMatcher_Prefix:
		return strings.HasPrefix(v, p.Prefix)
	case *matcher.StringMatcher_Suffix:
		return strings.HasSuffix(v, p.Suffix)
	case *matcher.StringMatcher_Contains:
		return strings.Contains(v, p.Contains)
	}
	return false
}

func pickCluster(a *route.RouteAction, draw uint32, res *Result) error {
	switch cs := a.GetClusterSpecifier().(type) {
	case *route.RouteAction_Cluster:
		res.Cluster = cs.Cluster
		return nil
	case *route.RouteAction_WeightedClusters:
		res.Weights = map[string]uint32{}
		var total uint32
		for _, c := range cs.WeightedClusters.GetClusters() {
			res.Weights[c.GetName()] = c.GetWeight().GetValue()
			total += c.GetWeight().GetValue()
		}
		if total == 0 {
			return fail("route", "weighted clusters have a total weight of 0")
		}
		var run uint32
		for _, c := range cs.WeightedClusters.GetClusters() {
			run += c.GetWeight().GetValue()
			if draw%total < run {
				res.Cluster = c.GetName()
				for _, h := range c.GetRequestHeadersToAdd() {
					res.RequestHeaders[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
				}
				return nil
			}
		}
	}
	return fail("route", "no cluster chosen")
}

func authzContext(rt *route.Route, res *Result) error {
	a, ok := rt.GetTypedPerFilterConfig()["envoy.filters.http.ext_authz"]
	if !ok {
		return nil
	}
	per := &extauthz.ExtAuthzPerRoute{}
	if err := a.UnmarshalTo(per); err != nil {
		return fail("route", "ext_authz per-route config: %v", err)
	}
	res.AuthzContext = per.GetCheckSettings().GetContextExtensions()
	return nil
}

// Distribution runs req once per unit of total weight and counts where it
// lands, so a test can assert a split exactly rather than statistically.
func Distribution(cfg Config, req Request, total uint32) (map[string]uint32, error) {
	out := map[string]uint32{}
	for d := uint32(0); d < total; d++ {
		req.Draw = d
		r, err := Run(cfg, req)
		if err != nil {
			return nil, err
		}
		out[r.Cluster]++
	}
	return out, nil
}

// HasFilters reports whether the request met want in order.
func (r *Result) HasFilters(want ...string) bool { return slices.Equal(r.HTTPFilters, want) }
