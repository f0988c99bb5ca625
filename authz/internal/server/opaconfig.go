package server

import (
	"errors"
	"fmt"
	"strings"

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
	cfg.Addr = strings.TrimPrefix(p.Addr, "grpc://")
	if !isLoopback(cfg.Addr) && cfg.SPIFFESocket == "" {
		return fmt.Errorf("plugins.envoy_ext_authz_grpc.addr %q is not a loopback address: nexus-authz serves ext_authz off loopback only over mTLS (--spiffe-socket); for a sidecar use 127.0.0.1%s", p.Addr, portOf(cfg.Addr))
	}
	cfg.Query = p.Decision
	cfg.DryRun = p.DryRun
	cfg.EnableReflection = p.EnableReflection
	cfg.SkipRequestBodyParse = p.SkipRequestBodyParse
	cfg.ProtoDescriptor = p.ProtoDescriptor
	cfg.GRPCMaxRecvMsgSize = p.GRPCMaxRecvMsgSize
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
	}
	return nil
}

func portOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return addr[i:]
	}
	return ""
}
