package app

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/secureai-nexus/nexus/controlplane/internal/identity"
	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
)

// weightMetrics exports each version's share of its model's traffic as
// served, so a dashboard shows a rollout's steps beside its metrics.
func weightMetrics(mp metric.MeterProvider, current func() *mesh.Mesh) error {
	m := mp.Meter("github.com/secureai-nexus/nexus/controlplane/traffic")
	_, err := m.Int64ObservableGauge("nexus.model.weight",
		metric.WithDescription("Percent of a model's traffic routed to a version, as pushed to the sidecars."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			for _, md := range current().Models {
				for v, w := range md.Weights() {
					o.Observe(int64(w), metric.WithAttributes(attribute.String("model", md.Name), attribute.String("version", v)))
				}
			}
			return nil
		}))
	return err
}

// identityMetrics exports the built-in CA's expiry state as gauges read at
// each collection: SVID and root expiry as Unix times (an alert compares
// them with time()), and whether a root rotation is pending.
func identityMetrics(mp metric.MeterProvider, a *identity.Authority) error {
	m := mp.Meter("github.com/secureai-nexus/nexus/controlplane/identity")
	svid, err := m.Float64ObservableGauge("nexus.identity.svid.expiry", metric.WithUnit("s"),
		metric.WithDescription("Unix time at which the first SVID the control plane holds (its own and every sidecar's) expires."))
	if err != nil {
		return err
	}
	root, err := m.Float64ObservableGauge("nexus.identity.root.expiry", metric.WithUnit("s"),
		metric.WithDescription("Unix time at which the first root of the trust bundle expires."))
	if err != nil {
		return err
	}
	pending, err := m.Int64ObservableGauge("nexus.identity.root.rotation_pending",
		metric.WithDescription("1 while a new root waits in the bundle before it signs."))
	if err != nil {
		return err
	}
	_, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		e := a.Expiry()
		if !e.EarliestSVID.IsZero() {
			o.ObserveFloat64(svid, float64(e.EarliestSVID.Unix()))
		}
		o.ObserveFloat64(root, float64(e.EarliestRoot.Unix()))
		var p int64
		if e.RotationPending {
			p = 1
		}
		o.ObserveInt64(pending, p)
		return nil
	}, svid, root, pending)
	return err
}
