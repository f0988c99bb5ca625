package accessreview_test

import (
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/accessreview"
	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
)

var now = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func TestBuild(t *testing.T) {
	day := 24 * time.Hour
	rep := accessreview.Build(accessreview.Inputs{
		Now:          now,
		AdminToken:   ".data/controlplane/admin.token",
		OIDCIssuer:   "https://idp.example",
		OIDCAudience: "nexus",
		Audit: []audit.Record{
			{Entry: audit.Entry{Time: now.Add(-100 * day), Actor: "oidc:alice", Action: "traffic.set"}},
			{Entry: audit.Entry{Time: now.Add(-2 * day), Actor: "oidc:bob", Action: "rollout.start"}},
			{Entry: audit.Entry{Time: now.Add(-1 * day), Actor: "oidc:bob", Action: "traffic.set"}},
			{Entry: audit.Entry{Time: now.Add(-3 * day), Actor: "token:local-admin", Action: "jointoken.create"}},
		},
		Grants: map[string]accessreview.Grant{
			"spiffe://nexus.local/ns/clinic/sa/*": {Models: []string{"triage"}, Versions: []string{"*"}, PHI: true},
			"spiffe://nexus.local/**":             {Models: []string{"*"}, Versions: []string{"*"}},
			"spiffe://nexus.local/ns/nexus/sa/op": {Models: []string{"*"}, Versions: []string{"*"}},
		},
		CallersSince: now.Add(-120 * day),
		Callers: []accessreview.Caller{
			{SPIFFEID: "spiffe://nexus.local/ns/clinic/sa/frontdesk", LastAllowed: now.Add(-time.Hour)},
			{SPIFFEID: "spiffe://nexus.local/ns/clinic/sa/deep/child", LastAllowed: now.Add(-2 * time.Hour)},
			{SPIFFEID: "spiffe://nexus.local/ns/research/sa/x", LastDenied: now.Add(-time.Minute)},
		},
		JoinTokens: []accessreview.JoinToken{{HashPrefix: "0123456789abcdef", SPIFFEID: "spiffe://nexus.local/nexus/authz", Created: now, Expires: now.Add(10 * time.Minute)}},
		BreakGlass: []accessreview.BreakGlass{{ID: "bg-1", Who: "spiffe://nexus.local/ns/er/sa/doc", Model: "triage", Reason: "unconscious patient",
			Granted: now.Add(-time.Hour), Expires: now.Add(3 * time.Hour), Uses: 2, LastUse: now.Add(-time.Minute)}},
	})
	type row struct {
		lastUsed time.Time
		stale    bool
		action   string
	}
	got := map[string]row{}
	for _, p := range rep.Principals {
		got[p.Kind+" "+p.ID] = row{p.LastUsed, p.Stale, p.LastAction}
	}
	want := map[string]row{
		"admin-token local-admin": {now.Add(-3 * day), false, "jointoken.create"},
		"admin-oidc *":            {time.Time{}, true, ""},
		"admin-oidc alice":        {now.Add(-100 * day), true, "traffic.set"},
		"admin-oidc bob":          {now.Add(-day), false, "traffic.set"},
		// The clinic grant covers frontdesk (directly under sa/), not
		// sa/deep/child; the trust-domain grant covers both.
		"policy-grant spiffe://nexus.local/ns/clinic/sa/*":    {now.Add(-time.Hour), false, "allowed call"},
		"policy-grant spiffe://nexus.local/**":                {now.Add(-time.Hour), false, "allowed call"},
		"policy-grant spiffe://nexus.local/ns/nexus/sa/op":    {time.Time{}, true, ""},
		"caller spiffe://nexus.local/ns/clinic/sa/frontdesk":  {now.Add(-time.Hour), false, "allowed call"},
		"caller spiffe://nexus.local/ns/clinic/sa/deep/child": {now.Add(-2 * time.Hour), false, "allowed call"},
		// A join token expires by itself: not stale though unused.
		"join-token 0123456789abcdef": {time.Time{}, false, ""},
		"break-glass bg-1":            {now.Add(-time.Minute), false, "used, not reviewed"},
	}
	if len(got) != len(want) {
		t.Errorf("got %d principals, want %d: %+v", len(got), len(want), rep.Principals)
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("missing %s", k)
			continue
		}
		if !g.lastUsed.Equal(w.lastUsed) || g.stale != w.stale || g.action != w.action {
			t.Errorf("%s = %+v, want %+v", k, g, w)
		}
	}
	for i := 1; i < len(rep.Principals); i++ {
		a, b := rep.Principals[i-1], rep.Principals[i]
		if a.Kind > b.Kind || (a.Kind == b.Kind && a.ID > b.ID) {
			t.Fatalf("not sorted at %d: %s %s before %s %s", i, a.Kind, a.ID, b.Kind, b.ID)
		}
	}
}

// Access nobody used is stale only once its source has watched for a
// quarter: a nexus-authz started an hour ago knows no "never".
func TestUnusedAccessIsNotStaleBeforeAQuarterOfWatching(t *testing.T) {
	rep := accessreview.Build(accessreview.Inputs{
		Now:          now,
		AdminToken:   "admin.token",
		Audit:        []audit.Record{{Entry: audit.Entry{Time: now.Add(-time.Hour), Actor: "token:local-admin", Action: "traffic.set"}}},
		Grants:       map[string]accessreview.Grant{"spiffe://nexus.local/ns/a/sa/*": {Models: []string{"*"}, Versions: []string{"*"}}},
		CallersSince: now.Add(-time.Hour),
		OIDCIssuer:   "https://idp.example",
	})
	for _, p := range rep.Principals {
		if p.Stale {
			t.Errorf("%s %s is stale after an hour of watching", p.Kind, p.ID)
		}
	}
}
