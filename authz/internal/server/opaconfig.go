package server

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/plugins"

	"github.com/secureai-nexus/nexus/authz/internal/opaconfig"
)

// ApplyOPAConfig sets cfg from an opa-envoy-plugin config file and the
// policy paths of `run --server PATH…`: the plugin section's address,
// decision, dry run, reflection, body parsing, descriptor set and gRPC
// limits; labels; console decision logs. Bundles, decision log upload and
// status reports are started by Run from cfg.OPA. explicitLog says the
// command line chose --decision-log itself, which then wins.
func ApplyOPAConfig(cfg *Config, oc *opaconfig.Config, paths []string, explicitLog bool) error {
	p := oc.ExtAuthz
	cfg.OPA = oc
	addr, err := extAuthzAddr(p.Addr)
	if err != nil {
		return err
	}
	cfg.Addr = addr
	if !isLoopback(cfg.Addr) && cfg.SPIFFESocket == "" {
		return fmt.Errorf("plugins.envoy_ext_authz_grpc.addr %q is not a loopback address: nexus-authz serves ext_authz off loopback only over mTLS (--spiffe-socket); for a sidecar use 127.0.0.1%s", p.Addr, portOf(cfg.Addr))
	}
	cfg.Query = p.Decision
	cfg.DryRun = p.DryRun
	cfg.EnableReflection = p.EnableReflection
	cfg.SkipRequestBodyParse = p.SkipRequestBodyParse
	cfg.ProtoDescriptor = p.ProtoDescriptor
	cfg.GRPCMaxRecvMsgSize = p.GRPCMaxRecvMsgSize
	// opa-envoy-plugin takes any CheckRequest gRPC accepts.
	cfg.MaxInputBytes = p.GRPCMaxRecvMsgSize
	cfg.GRPCMaxSendMsgSize = p.GRPCMaxSendMsgSize
	if p.EnablePerformanceMetrics {
		cfg.PerformanceMetricsBuckets = p.GRPCRequestDurationSecondsBuckets
	}
	cfg.Labels = oc.Labels
	cfg.PolicyPaths = paths
	if len(paths) == 0 && len(oc.Bundles) == 0 {
		return errors.New("no policies: give policy paths after the flags, or configure bundles in the config file")
	}
	if len(paths) > 0 && len(oc.Bundles) > 0 {
		return errors.New("policy paths and configured bundles together are not supported: serve the paths as a bundle, or load them from the bundle service")
	}
	for _, name := range slices.Sorted(maps.Keys(oc.Bundles)) {
		if oc.Bundles[name].Trigger == plugins.TriggerManual {
			return fmt.Errorf("bundles.%s.trigger: manual is not supported by nexus-authz (nothing would ever download it, and every request would be denied); use periodic polling", name)
		}
	}
	if !explicitLog {
		// As opa-envoy-plugin: decisions are logged only when decision_logs
		// asks, and then in OPA's schema.
		cfg.DecisionLog = "off"
		if oc.DecisionLogs != nil && oc.DecisionLogs.Console {
			cfg.DecisionLog = "stdout"
		}
	}
	if oc.DecisionLogs != nil {
		cfg.DecisionLogOPAFormat = true
		cfg.MaskDecision = oc.DecisionLogs.MaskDecision
	}
	return nil
}

// extAuthzAddr reads the plugin's addr as opa-envoy-plugin does: host:port,
// or a URL — grpc://host:port, unix:///path.
func extAuthzAddr(addr string) (string, error) {
	if !strings.Contains(addr, "://") {
		return addr, nil
	}
	u, err := url.Parse(addr)
	if err != nil {
		return "", fmt.Errorf("plugins.envoy_ext_authz_grpc.addr %q: %w", addr, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "unix":
		return "unix://" + u.Path, nil
	case "grpc", "tcp":
		return u.Host, nil
	}
	return "", fmt.Errorf("plugins.envoy_ext_authz_grpc.addr %q: scheme %q is not grpc:// or unix://", addr, u.Scheme)
}

func portOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return addr[i:]
	}
	return ""
}
