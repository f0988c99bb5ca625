package translate_test

import (
	"path/filepath"
	"testing"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"github.com/secureai-nexus/nexus/controlplane/internal/translate"
)

// TestNoPlaintextUpstream walks every cluster of every golden case, the
// bootstrap's included: each one leaving the node speaks TLS that checks
// the peer, and each one inside the mesh also presents the node's SVID.
// The only plaintext hops are a service sidecar's loopback to its own app
// (as Istio's inbound path) and the SPIRE agent's Unix socket.
func TestNoPlaintextUpstream(t *testing.T) {
	for _, path := range cases(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			m, res := translateFile(t, path)
			plaintextAllowed := map[string]bool{translate.ClusterSPIRE: true}
			for _, s := range m.Services {
				plaintextAllowed[translate.InboundAppCluster(s.Name)] = true
			}
			for _, n := range m.Nodes() {
				clusters := res[n.ID].Clusters
				bs, err := translate.Bootstrap(m, n.ID, testCreds)
				if err != nil {
					t.Fatal(err)
				}
				clusters = append(clusters, bs.GetStaticResources().GetClusters()...)
				for _, c := range clusters {
					checkCluster(t, n.ID, c, plaintextAllowed[c.GetName()])
				}
			}
		})
	}
}

func checkCluster(t *testing.T, node string, c *cluster.Cluster, plaintextAllowed bool) {
	t.Helper()
	ts := c.GetTransportSocket()
	if ts == nil {
		if !plaintextAllowed {
			t.Errorf("%s: cluster %s is plaintext", node, c.GetName())
		}
		return
	}
	up := &tlsv3.UpstreamTlsContext{}
	if err := ts.GetTypedConfig().UnmarshalTo(up); err != nil {
		t.Fatalf("%s: cluster %s: transport socket is not TLS: %v", node, c.GetName(), err)
	}
	ctx := up.GetCommonTlsContext()
	vc := ctx.GetValidationContext()
	if cvc := ctx.GetCombinedValidationContext(); cvc != nil {
		vc = cvc.GetDefaultValidationContext()
		if cvc.GetValidationContextSdsSecretConfig().GetName() == "" {
			t.Errorf("%s: cluster %s: no trust bundle", node, c.GetName())
		}
	} else if vc.GetTrustedCa() == nil {
		t.Errorf("%s: cluster %s: no trusted CA", node, c.GetName())
	}
	if len(vc.GetMatchTypedSubjectAltNames()) == 0 {
		t.Errorf("%s: cluster %s: accepts any peer name", node, c.GetName())
	}
	switch c.GetName() {
	case translate.ClusterJWKS:
		// A public issuer: server authentication against the system CAs.
	case translate.ClusterXDS:
		if len(ctx.GetTlsCertificateSdsSecretConfigs()) == 0 {
			// Built-in provider: the node credential rides in the metadata.
			return
		}
	default:
		if len(ctx.GetTlsCertificateSdsSecretConfigs()) != 1 {
			t.Errorf("%s: cluster %s: does not present the node's SVID", node, c.GetName())
		}
	}
}
