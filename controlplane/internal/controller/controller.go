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

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
	"github.com/secureai-nexus/nexus/controlplane/internal/mesh"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
	"github.com/secureai-nexus/nexus/controlplane/internal/translate"
)

// Publisher pushes a mesh to the sidecars.
type Publisher interface {
	Publish(ctx context.Context, m *mesh.Mesh) error
}

// Controller serializes changes to the mesh.
type Controller struct {
	log   *slog.Logger
	store store.Store
	pub   Publisher
	now   func() time.Time

	mu   sync.RWMutex
	mesh *mesh.Mesh
}

// New lays the stored weights over base, publishes the result and returns
// the controller. Stored weights that no longer fit the mesh file (a
// version was removed) are ignored with a warning: the file wins.
func New(ctx context.Context, log *slog.Logger, base *mesh.Mesh, st store.Store, pub Publisher, now func() time.Time) (*Controller, error) {
	stored, err := st.Traffic(ctx)
	if err != nil {
		return nil, err
	}
	m := base
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
			log.Warn("stored traffic no longer fits the mesh file; using the file's weights", "model", md.Name, "error", err)
			continue
		}
		m = m.WithWeights(md.Name, valid)
	}
	if err := pub.Publish(ctx, m); err != nil {
		return nil, err
	}
	return &Controller{log: log, store: st, pub: pub, now: now, mesh: m}, nil
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
		return *old, audit.Record{}, nil
	}
	next := c.mesh.WithWeights(model, valid)
	// Translate before persisting: a change that cannot be served is
	// refused before anything is written.
	if _, err := translate.Translate(next); err != nil {
		return mesh.Model{}, audit.Record{}, fmt.Errorf("translate: %w", err)
	}
	before, _ := json.Marshal(old.Weights())
	after, _ := json.Marshal(valid)
	rec, err := c.store.SetTraffic(ctx, model, valid, audit.Entry{
		Time: c.now(), Actor: actor, Action: "traffic.set", Target: "models/" + model, Before: before, After: after,
	})
	if err != nil {
		return mesh.Model{}, audit.Record{}, fmt.Errorf("persist traffic: %w", err)
	}
	if err := c.pub.Publish(ctx, next); err != nil {
		// Persisted but not pushed: the next successful publish (or a
		// restart) serves it. Say so rather than pretend.
		return mesh.Model{}, rec, errors.Join(ErrNotPublished, err)
	}
	c.mesh = next
	md, _ := next.Model(model)
	c.log.Info("traffic shifted", "model", model, "actor", actor, "before", string(before), "after", string(after), "audit_seq", rec.Seq)
	return *md, rec, nil
}

// ErrNotPublished means a change was stored but could not be pushed.
var ErrNotPublished = errors.New("change stored but not published")
