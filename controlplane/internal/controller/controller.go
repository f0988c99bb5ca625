// Package controller owns the control plane's live state: the mesh from the
// file with the traffic weights set through the API laid over it. Every
// change is validated, translated, persisted with its audit record and only
// then published, so a rejected change leaves the last good state serving.
package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
)

// Publisher pushes a mesh to the sidecars in two steps: Prepare translates
// (and may refuse), the returned commit pushes what was prepared.
type Publisher interface {
	Prepare(m *mesh.Mesh) (commit func(context.Context) error, err error)
}

// Controller serializes changes to the mesh.
type Controller struct {
	log   *slog.Logger
	store store.Store
	pub   Publisher
	now   func() time.Time

	mu   sync.RWMutex
	mesh *mesh.Mesh
	// unpublished is set while the stored state has not reached the
	// sidecars (the last push failed): the next change, even one that
	// leaves the state as it is, pushes it again.
	unpublished bool
}

// New lays the stored weights over base, publishes the result and returns
// the controller.
func New(ctx context.Context, log *slog.Logger, base *mesh.Mesh, st store.Store, pub Publisher, now func() time.Time) (*Controller, error) {
	c := &Controller{log: log, store: st, pub: pub, now: now}
	m, err := c.overlay(ctx, base)
	if err != nil {
		return nil, err
	}
	commit, err := pub.Prepare(m)
	if err != nil {
		return nil, err
	}
	if err := commit(ctx); err != nil {
		return nil, err
	}
	c.mesh = m
	return c, nil
}

// overlay applies the weights set through the API to a mesh from the file.
// Stored weights that no longer fit (a version was removed) are ignored
// with a warning: the file wins.
func (c *Controller) overlay(ctx context.Context, base *mesh.Mesh) (*mesh.Mesh, error) {
	stored, err := c.store.Traffic(ctx)
	if err != nil {
		return nil, err
	}
	m := base
	records, err := c.store.VersionStates(ctx)
	if err != nil {
		return nil, err
	}
	for model, versions := range records {
		md, ok := base.Model(model)
		if !ok {
			continue
		}
		for version, raw := range versions {
			if _, ok := md.Version(version); !ok {
				// Registered through the API: added back, unless the file
				// now lists it (the file wins).
				var rec struct {
					State        mesh.VersionState  `json:"state"`
					Registration *mesh.Registration `json:"registration"`
				}
				if json.Unmarshal(raw, &rec) != nil || rec.Registration == nil {
					continue
				}
				next, err := m.WithRegisteredVersion(model, *rec.Registration, rec.State)
				if err != nil {
					c.log.Warn("registered version no longer fits the mesh; left out", "model", model, "version", version, "error", err)
					continue
				}
				m = next
				continue
			}
			var rec struct {
				State        mesh.VersionState  `json:"state"`
				Registration *mesh.Registration `json:"registration"`
			}
			if json.Unmarshal(raw, &rec) == nil && rec.State != "" {
				m = m.WithVersionState(model, version, rec.State)
			}
		}
	}
	for _, md := range base.Models {
		w, ok := stored[md.Name]
		if !ok {
			continue
		}
		req := make(map[string]int64, len(w))
		for v, x := range w {
			req[v] = int64(x)
		}
		valid, err := m.ValidateWeights(md.Name, req)
		if err != nil {
			c.log.Warn("stored traffic no longer fits the mesh file; using the file's weights", "model", md.Name, "error", err)
			continue
		}
		m = m.WithWeights(md.Name, valid)
	}
	return m, nil
}

// Reload serves a new mesh from the file, with the API's weights laid over
// it, and audits the reload. A mesh that fails to translate is refused and
// the current one keeps serving.
func (c *Controller) Reload(ctx context.Context, base *mesh.Mesh, source string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, err := c.overlay(ctx, base)
	if err != nil {
		return err
	}
	commit, err := c.pub.Prepare(m)
	if err != nil {
		return err
	}
	rec, err := c.store.Append(ctx, audit.Entry{
		Time: c.now(), Actor: "file:" + source, Action: "mesh.reload", Target: "mesh",
		Before: summary(c.mesh), After: summary(m),
	})
	if err != nil {
		return fmt.Errorf("audit reload: %w", err)
	}
	trace.SpanFromContext(ctx).SetAttributes(attribute.Int64("nexus.audit.seq", rec.Seq))
	c.mesh = m
	if err := c.publish(ctx, commit); err != nil {
		return err
	}
	c.log.Info("mesh reloaded", "source", source, "models", len(m.Models), "services", len(m.Services))
	return nil
}

// summary is what the audit log keeps of a whole mesh: its models and
// weights, and its services.
func summary(m *mesh.Mesh) json.RawMessage {
	type model struct {
		Name    string            `json:"name"`
		Weights map[string]uint32 `json:"weights"`
	}
	out := struct {
		Models   []model  `json:"models"`
		Services []string `json:"services"`
	}{Models: []model{}, Services: []string{}}
	for _, md := range m.Models {
		out.Models = append(out.Models, model{md.Name, md.Weights()})
	}
	for _, s := range m.Services {
		out.Services = append(out.Services, s.Name)
	}
	b, _ := json.Marshal(out)
	return b
}

// Mesh returns the mesh being served. Callers must not modify it.
func (c *Controller) Mesh() *mesh.Mesh {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.mesh
}

// SetTraffic validates and applies new weights for a model on behalf of
// actor. It returns the model as now served.
func (c *Controller) SetTraffic(ctx context.Context, actor, model string, weights map[string]int64) (mesh.Model, audit.Record, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	valid, err := c.mesh.ValidateWeights(model, weights)
	if err != nil {
		return mesh.Model{}, audit.Record{}, err
	}
	old, _ := c.mesh.Model(model)
	if maps.Equal(old.Weights(), valid) {
		// Nothing to store; but if the stored state never reached the
		// sidecars, this is the operator asking again: push it.
		if c.unpublished {
			commit, err := c.pub.Prepare(c.mesh)
			if err == nil {
				err = c.publish(ctx, commit)
			}
			if err != nil {
				return mesh.Model{}, audit.Record{}, err
			}
			c.log.Info("traffic republished after a failed push", "model", model, "actor", actor)
		}
		return *old, audit.Record{}, nil
	}
	next := c.mesh.WithWeights(model, valid)
	// Translate before persisting: a change that cannot be served is
	// refused before anything is written.
	commit, err := c.pub.Prepare(next)
	if err != nil {
		return mesh.Model{}, audit.Record{}, err
	}
	before, _ := json.Marshal(old.Weights())
	after, _ := json.Marshal(valid)
	rec, err := c.store.SetTraffic(ctx, model, valid, audit.Entry{
		Time: c.now(), Actor: actor, Action: "traffic.set", Target: "models/" + model, Before: before, After: after,
	})
	if err != nil {
		return mesh.Model{}, audit.Record{}, fmt.Errorf("persist traffic: %w", err)
	}
	// The change's span (the admin request's) carries its audit number,
	// so a trace leads to the audit record and back.
	trace.SpanFromContext(ctx).SetAttributes(attribute.Int64("nexus.audit.seq", rec.Seq), attribute.String("nexus.model", model))
	// Persisted is the truth from here: a later change builds on it even
	// if this push fails.
	c.mesh = next
	if err := c.publish(ctx, commit); err != nil {
		return mesh.Model{}, rec, err
	}
	md, _ := next.Model(model)
	c.log.Info("traffic shifted", "model", model, "actor", actor, "before", string(before), "after", string(after), "audit_seq", rec.Seq)
	return *md, rec, nil
}

// RegisterVersion adds a version to model at weight 0, registered, with
// the record the registry keeps for it.
func (c *Controller) RegisterVersion(ctx context.Context, actor, model string, reg mesh.Registration, record json.RawMessage) (audit.Record, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	next, err := c.mesh.WithRegisteredVersion(model, reg, mesh.StateRegistered)
	if err != nil {
		return audit.Record{}, err
	}
	commit, err := c.pub.Prepare(next)
	if err != nil {
		return audit.Record{}, err
	}
	rec, err := c.store.SaveVersionState(ctx, model, reg.Name, record, audit.Entry{
		Time: c.now(), Actor: actor, Action: "version.registered", Target: "models/" + model + "/versions/" + reg.Name, After: record,
	})
	if err != nil {
		return audit.Record{}, fmt.Errorf("persist version: %w", err)
	}
	trace.SpanFromContext(ctx).SetAttributes(attribute.Int64("nexus.audit.seq", rec.Seq))
	c.mesh = next
	if err := c.publish(ctx, commit); err != nil {
		return rec, err
	}
	c.log.Info("version registered", "model", model, "version", reg.Name, "actor", actor, "audit_seq", rec.Seq)
	return rec, nil
}

// SetVersionState records a version's new life-cycle state with the
// record (reports included) the registry keeps for it, and serves the
// mesh with it. A version that may no longer serve (retired, or sent
// back) must have weight 0 first.
func (c *Controller) SetVersionState(ctx context.Context, actor, model, version string, state mesh.VersionState, record json.RawMessage) (audit.Record, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	md, ok := c.mesh.Model(model)
	if !ok {
		return audit.Record{}, fmt.Errorf("%w: %q", mesh.ErrUnknownModel, model)
	}
	v, ok := md.Version(version)
	if !ok {
		return audit.Record{}, fmt.Errorf("%w: model %s has no version %q", mesh.ErrUnknownVersion, model, version)
	}
	next := c.mesh.WithVersionState(model, version, state)
	if nv, _ := mustVersion(next, model, version); !nv.MayServe() && v.Weight > 0 {
		return audit.Record{}, &mesh.NotServableError{Model: model, Version: version, State: state}
	}
	commit, err := c.pub.Prepare(next)
	if err != nil {
		return audit.Record{}, err
	}
	before, _ := json.Marshal(map[string]any{"state": v.State})
	rec, err := c.store.SaveVersionState(ctx, model, version, record, audit.Entry{
		Time: c.now(), Actor: actor, Action: "version." + string(state), Target: "models/" + model + "/versions/" + version,
		Before: before, After: record,
	})
	if err != nil {
		return audit.Record{}, fmt.Errorf("persist version state: %w", err)
	}
	trace.SpanFromContext(ctx).SetAttributes(attribute.Int64("nexus.audit.seq", rec.Seq))
	c.mesh = next
	if err := c.publish(ctx, commit); err != nil {
		return rec, err
	}
	c.log.Info("version state changed", "model", model, "version", version, "from", v.State, "to", state, "actor", actor, "audit_seq", rec.Seq)
	return rec, nil
}

func mustVersion(m *mesh.Mesh, model, version string) (mesh.Version, bool) {
	md, ok := m.Model(model)
	if !ok {
		return mesh.Version{}, false
	}
	return md.Version(version)
}

// publish pushes a prepared state, remembering whether the sidecars have
// what is stored.
func (c *Controller) publish(ctx context.Context, commit func(context.Context) error) error {
	if err := commit(ctx); err != nil {
		c.unpublished = true
		return errors.Join(ErrNotPublished, err)
	}
	c.unpublished = false
	return nil
}

// ErrNotPublished means a change was stored but could not be pushed.
var ErrNotPublished = errors.New("change stored but not published")
