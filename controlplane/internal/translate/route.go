package translate

import (
	"encoding/json"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthz "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	matcher "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
)

const (
	// routeTimeout bounds a whole inference call; generation is slow.
	routeTimeout      = 300 * time.Second
	streamIdleTimeout = 60 * time.Second
	grpcTimeout       = 5 * time.Second
	connectTimeout    = 5 * time.Second
	jwksCacheDuration = 10 * time.Minute
)

// modelRoutes serves one model: the per-model inference path and the
// OpenAI-style path whose model piiguard copied from the body into
// HeaderModel. Each may be pinned to a version by HeaderVersion; otherwise
// the weighted split applies.
func (b *builder) modelRoutes(md *mesh.Model) *route.RouteConfiguration {
	var routes []*route.Route
	entries := []struct {
		kind  string
		match func() *route.RouteMatch
	}{
		{"inference", func() *route.RouteMatch {
			return &route.RouteMatch{PathSpecifier: &route.RouteMatch_Path{Path: InferencePathPrefix + md.Name}, Headers: []*route.HeaderMatcher{methodIs("POST")}}
		}},
		{"chat", func() *route.RouteMatch {
			return &route.RouteMatch{PathSpecifier: &route.RouteMatch_Path{Path: OpenAIChatPath}, Headers: []*route.HeaderMatcher{methodIs("POST"), headerIs(HeaderModel, md.Name)}}
		}},
	}
	for _, e := range entries {
		for _, v := range md.Versions {
			m := e.match()
			m.Headers = append(m.Headers, headerIs(HeaderVersion, v.Name))
			routes = append(routes, &route.Route{
				Name:  md.Name + "/" + e.kind + "/" + v.Name,
				Match: m,
				Action: &route.Route_Route{Route: &route.RouteAction{
					ClusterSpecifier: &route.RouteAction_Cluster{Cluster: ModelVersionCluster(md.Name, v.Name)},
					Timeout:          dur(routeTimeout),
				}},
				RequestHeadersToAdd:  []*core.HeaderValueOption{setHeader(HeaderModel, md.Name)},
				ResponseHeadersToAdd: []*core.HeaderValueOption{setHeader(HeaderVersion, v.Name)},
				TypedPerFilterConfig: b.authzContext(md, v.Name),
			})
		}
		routes = append(routes, &route.Route{
			Name:  md.Name + "/" + e.kind,
			Match: e.match(),
			Action: &route.Route_Route{Route: &route.RouteAction{
				ClusterSpecifier:      &route.RouteAction_WeightedClusters{WeightedClusters: b.weightedClusters(md)},
				Timeout:               dur(routeTimeout),
				RequestMirrorPolicies: mirrors(md),
			}},
			RequestHeadersToAdd:  []*core.HeaderValueOption{setHeader(HeaderModel, md.Name)},
			TypedPerFilterConfig: b.authzContext(md, ""),
		})
	}
	routes = append(routes,
		jsonError(md.Name+"/chat/other-model", &route.RouteMatch{PathSpecifier: &route.RouteMatch_Path{Path: OpenAIChatPath}},
			404, "model_not_found", "this sidecar serves model "+md.Name+" only"),
		jsonError(md.Name+"/not-found", &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}},
			404, "not_found", "no such path"),
	)
	// The policy still sees these requests: a probe for other paths is
	// something an operator wants in the decision log.
	for _, r := range routes[len(routes)-2:] {
		r.TypedPerFilterConfig = b.authzContext(md, "")
	}
	return &route.RouteConfiguration{
		Name: RouteConfigName(ListenerInbound, md.Name),
		VirtualHosts: []*route.VirtualHost{
			{Name: md.Name, Domains: md.Hosts, Routes: routes},
			unknownHost(),
		},
		ValidateClusters: wrapperspb.Bool(false),
	}
}

func (b *builder) weightedClusters(md *mesh.Model) *route.WeightedCluster {
	wc := &route.WeightedCluster{}
	for _, v := range md.Versions {
		// The invariant, whatever the mesh says: a version that is not
		// validated (or is retired) gets no traffic.
		w := v.Weight
		if !v.MayServe() {
			w = 0
		}
		wc.Clusters = append(wc.Clusters, &route.WeightedCluster_ClusterWeight{
			Name:                ModelVersionCluster(md.Name, v.Name),
			Weight:              wrapperspb.UInt32(w),
			RequestHeadersToAdd: []*core.HeaderValueOption{setHeader(HeaderVersion, v.Name)},
			// The version that answered, set by the route so an upstream
			// cannot choose it: piiguard counts what leaks in answers by it.
			ResponseHeadersToAdd: []*core.HeaderValueOption{setHeader(HeaderVersion, v.Name)},
		})
	}
	return wc
}

// mirrors are the shadow-traffic copies of a model's requests: a copy
// of Mirror percent of them to each version that asks for it and may
// serve (the invariant: a version that is not validated gets no mirror,
// whatever the mesh says). The copies pass the same filters first —
// piiguard has tokenized them, nexus-authz has allowed the original —
// and Envoy drops their answers.
func mirrors(md *mesh.Model) []*route.RouteAction_RequestMirrorPolicy {
	var out []*route.RouteAction_RequestMirrorPolicy
	for _, v := range md.Versions {
		if v.Mirror == 0 || !v.MayServe() {
			continue
		}
		out = append(out, &route.RouteAction_RequestMirrorPolicy{
			Cluster: ModelVersionCluster(md.Name, v.Name),
			RuntimeFraction: &core.RuntimeFractionalPercent{
				DefaultValue: &typev3.FractionalPercent{Numerator: min(v.Mirror, 100), Denominator: typev3.FractionalPercent_HUNDRED},
				RuntimeKey:   "nexus.mirror." + md.Name + "." + v.Name,
			},
		})
	}
	return out
}

// authzContext tells nexus-authz which model (and, when pinned, version) a
// request is for and which Rego package guards it, through the
// context_extensions Envoy forwards in every CheckRequest.
func (b *builder) authzContext(md *mesh.Model, version string) map[string]*anypb.Any {
	ext := map[string]string{"model": md.Name, "policy": md.Policy}
	if version != "" {
		ext["version"] = version
		// A request pinned to a version that is not serving yet is a smoke
		// test of a candidate: the policy lets only operators send it.
		if v, ok := md.Version(version); ok {
			ext["version_state"] = string(v.State)
		}
	}
	return map[string]*anypb.Any{FilterExtAuthz: b.anyOf(&extauthz.ExtAuthzPerRoute{
		Override: &extauthz.ExtAuthzPerRoute_CheckSettings{CheckSettings: &extauthz.CheckSettings{ContextExtensions: ext}},
	})}
}

// serviceInboundRoutes sends every call the sidecar accepted to the app.
func (b *builder) serviceInboundRoutes(s *mesh.Service) *route.RouteConfiguration {
	return &route.RouteConfiguration{
		Name: RouteConfigName(ListenerInbound, s.Name),
		VirtualHosts: []*route.VirtualHost{{
			Name:    s.Name,
			Domains: []string{"*"},
			Routes: []*route.Route{{
				Name:  s.Name + "/app",
				Match: &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}},
				Action: &route.Route_Route{Route: &route.RouteAction{
					ClusterSpecifier: &route.RouteAction_Cluster{Cluster: InboundAppCluster(s.Name)},
					Timeout:          dur(routeTimeout),
				}},
			}},
		}},
	}
}

// serviceOutboundRoutes has one virtual host per model, by the model's hosts.
func (b *builder) serviceOutboundRoutes(s *mesh.Service) *route.RouteConfiguration {
	vhosts := make([]*route.VirtualHost, 0, len(b.mesh.Models)+1)
	for i := range b.mesh.Models {
		md := &b.mesh.Models[i]
		vhosts = append(vhosts, &route.VirtualHost{
			Name:    md.Name,
			Domains: md.Hosts,
			Routes: []*route.Route{{
				Name:  md.Name + "/outbound",
				Match: &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}},
				Action: &route.Route_Route{Route: &route.RouteAction{
					ClusterSpecifier: &route.RouteAction_Cluster{Cluster: OutboundCluster(md.Name)},
					Timeout:          dur(routeTimeout),
				}},
			}},
		})
	}
	vhosts = append(vhosts, unknownHost())
	return &route.RouteConfiguration{Name: RouteConfigName(ListenerOutbound, s.Name), VirtualHosts: vhosts}
}

func unknownHost() *route.VirtualHost {
	return &route.VirtualHost{
		Name:    "unknown-host",
		Domains: []string{"*"},
		Routes: []*route.Route{jsonError("unknown-host", &route.RouteMatch{PathSpecifier: &route.RouteMatch_Prefix{Prefix: "/"}},
			404, "unknown_host", "no model is served at this host")},
	}
}

// jsonError answers directly with an OpenAI-style JSON error body.
func jsonError(name string, m *route.RouteMatch, status uint32, code, msg string) *route.Route {
	body, _ := json.Marshal(map[string]map[string]string{"error": {"code": code, "message": msg}})
	return &route.Route{
		Name:  name,
		Match: m,
		Action: &route.Route_DirectResponse{DirectResponse: &route.DirectResponseAction{
			Status: status,
			Body:   &core.DataSource{Specifier: &core.DataSource_InlineString{InlineString: string(body)}},
		}},
		ResponseHeadersToAdd: []*core.HeaderValueOption{setHeader("content-type", "application/json")},
	}
}

func methodIs(m string) *route.HeaderMatcher { return headerIs(":method", m) }

func headerIs(name, value string) *route.HeaderMatcher {
	return &route.HeaderMatcher{
		Name:                 name,
		HeaderMatchSpecifier: &route.HeaderMatcher_StringMatch{StringMatch: &matcher.StringMatcher{MatchPattern: &matcher.StringMatcher_Exact{Exact: value}}},
	}
}

func setHeader(name, value string) *core.HeaderValueOption {
	return &core.HeaderValueOption{
		Header:       &core.HeaderValue{Key: name, Value: value},
		AppendAction: core.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
	}
}
