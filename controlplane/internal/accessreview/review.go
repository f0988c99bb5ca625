// Package accessreview lists every principal that can change anything or
// reach a model — admin identities, SPIFFE ids the policy grants model
// access, open join tokens, break-glass grants — with when each was last
// used, for SOC 2's periodic access review (CC6.2, CC6.3). Build is pure:
// the sources are read by Collect.
package accessreview

import (
	"slices"
	"strings"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
)

// Kinds of principal.
const (
	KindAdminToken  = "admin-token"
	KindAdminOIDC   = "admin-oidc"
	KindAdminSPIFFE = "admin-spiffe"
	KindPolicyGrant = "policy-grant"
	KindCaller      = "caller"
	KindJoinToken   = "join-token"
	KindBreakGlass  = "break-glass"
)

// StaleAfter is how long unused access may stay before the review flags
// it: a quarter, the review's own period.
const StaleAfter = 90 * 24 * time.Hour

// Principal is one line of the review.
type Principal struct {
	Kind string `json:"kind"`
	// ID names it: a subject, a SPIFFE id or pattern, a token's hash
	// prefix.
	ID string `json:"id"`
	// Access says what it can do; Source where that access comes from.
	Access string `json:"access"`
	Source string `json:"source"`
	// Expires is when the access ends by itself, if it does.
	Expires    time.Time `json:"expires,omitzero"`
	LastUsed   time.Time `json:"last_used,omitzero"`
	LastAction string    `json:"last_action,omitempty"`
	// Stale is set when the access was never used, or not within
	// StaleAfter, and does not expire by itself: a candidate for removal.
	Stale bool `json:"stale,omitempty"`
}

// Report is the whole review.
type Report struct {
	GeneratedAt time.Time   `json:"generated_at"`
	Principals  []Principal `json:"principals"`
	// Unavailable names sources that could not be read: the review is
	// incomplete, and says so, rather than silently shorter.
	Unavailable []string `json:"unavailable,omitempty"`
}

// Grant is one entry of the shipped policy's data.nexus.grants.
type Grant struct {
	Models   []string `json:"models"`
	Versions []string `json:"versions"`
	PHI      bool     `json:"phi"`
}

// Caller is a caller SPIFFE id a nexus-authz decided for.
type Caller struct {
	SPIFFEID    string    `json:"spiffe_id"`
	LastAllowed time.Time `json:"last_allowed,omitzero"`
	LastDenied  time.Time `json:"last_denied,omitzero"`
}

// JoinToken is an open join token.
type JoinToken struct {
	HashPrefix string
	SPIFFEID   string
	Created    time.Time
	Expires    time.Time
}

// BreakGlass is a break-glass grant.
type BreakGlass struct {
	ID       string
	Who      string
	Model    string
	Reason   string
	Granted  time.Time
	Expires  time.Time
	Uses     int
	LastUse  time.Time
	Reviewed bool
}

// Inputs is everything the review reads.
type Inputs struct {
	Now time.Time
	// AdminToken is set when the loopback admin token is accepted (dev
	// mode), with the file it lives in.
	AdminToken string
	// OIDCIssuer and OIDCAudience are the admin API's OpenID provider.
	OIDCIssuer, OIDCAudience string
	// AdminSPIFFEIDs may use the admin API over mTLS.
	AdminSPIFFEIDs []string
	// Audit is the audit log, for admin principals' last use.
	Audit []audit.Record
	// Grants are the serving policy's grants, by caller pattern, and
	// Callers what nexus-authz decided for since CallersSince.
	Grants       map[string]Grant
	Callers      []Caller
	CallersSince time.Time
	JoinTokens   []JoinToken
	BreakGlass   []BreakGlass
	Unavailable  []string
}

// Build turns the inputs into the review, sorted by kind and id.
func Build(in Inputs) Report {
	r := Report{GeneratedAt: in.Now.UTC(), Principals: []Principal{}, Unavailable: in.Unavailable}
	type use struct {
		at     time.Time
		action string
	}
	last := map[string]use{} // audit actor → last record
	for _, rec := range in.Audit {
		if u, ok := last[rec.Actor]; !ok || !rec.Time.Before(u.at) {
			last[rec.Actor] = use{rec.Time, rec.Action}
		}
	}
	// The audit log covers admin use from its first record; nexus-authz
	// knows its callers only since it started. Unused access is stale
	// only once the source has watched for a whole StaleAfter.
	auditSince := in.Now
	if len(in.Audit) > 0 {
		auditSince = in.Audit[0].Time
	}
	add := func(p Principal, actor string, expires bool) {
		if u, ok := last[actor]; ok && actor != "" {
			p.LastUsed, p.LastAction = u.at.UTC(), u.action
		}
		watched := auditSince
		if p.Kind == KindPolicyGrant || p.Kind == KindCaller {
			watched = in.CallersSince
		}
		switch {
		case expires:
		case p.LastUsed.IsZero():
			p.Stale = !watched.IsZero() && in.Now.Sub(watched) > StaleAfter
		default:
			p.Stale = in.Now.Sub(p.LastUsed) > StaleAfter
		}
		r.Principals = append(r.Principals, p)
	}

	if in.AdminToken != "" {
		add(Principal{Kind: KindAdminToken, ID: "local-admin", Access: "admin API: every change (loopback only)", Source: in.AdminToken}, "token:local-admin", false)
	}
	if in.OIDCIssuer != "" {
		// Anyone the issuer mints a token for the audience is an admin; the
		// subjects that have acted are listed one by one.
		add(Principal{Kind: KindAdminOIDC, ID: "*", Access: "admin API: every change, for any token the issuer mints for audience " + in.OIDCAudience,
			Source: "--oidc-issuer " + in.OIDCIssuer}, "", false)
		for actor := range last {
			if sub, ok := strings.CutPrefix(actor, "oidc:"); ok {
				add(Principal{Kind: KindAdminOIDC, ID: sub, Access: "admin API: every change", Source: "--oidc-issuer " + in.OIDCIssuer}, actor, false)
			}
		}
	}
	for _, id := range in.AdminSPIFFEIDs {
		add(Principal{Kind: KindAdminSPIFFE, ID: id, Access: "admin API over mTLS: every change", Source: "--admin-spiffe-id"}, "spiffe:"+id, false)
	}

	callerUse := map[string]time.Time{}
	for _, c := range in.Callers {
		callerUse[c.SPIFFEID] = c.LastAllowed
	}
	for pattern, g := range in.Grants {
		p := Principal{Kind: KindPolicyGrant, ID: pattern, Access: grantAccess(g), Source: "policy data nexus.grants"}
		for id, at := range callerUse {
			if matches(pattern, id) && at.After(p.LastUsed) {
				p.LastUsed, p.LastAction = at, "allowed call"
			}
		}
		add(p, "", false)
	}
	for _, c := range in.Callers {
		if c.LastAllowed.IsZero() {
			continue // denied only: it has no access to review
		}
		var via []string
		for pattern := range in.Grants {
			if matches(pattern, c.SPIFFEID) {
				via = append(via, pattern)
			}
		}
		slices.Sort(via)
		add(Principal{Kind: KindCaller, ID: c.SPIFFEID, Access: "called models (allowed)", Source: "grants " + strings.Join(via, ", "),
			LastUsed: c.LastAllowed, LastAction: "allowed call"}, "", false)
	}
	for _, t := range in.JoinTokens {
		add(Principal{Kind: KindJoinToken, ID: t.HashPrefix, Access: "exchange for an SVID of " + t.SPIFFEID, Source: "join token created " + t.Created.UTC().Format(time.RFC3339),
			Expires: t.Expires.UTC()}, "", true)
	}
	for _, b := range in.BreakGlass {
		p := Principal{Kind: KindBreakGlass, ID: b.ID, Access: "emergency access for " + b.Who + " to " + b.Model + ": " + b.Reason,
			Source: "break-glass granted " + b.Granted.UTC().Format(time.RFC3339), Expires: b.Expires.UTC(), LastUsed: b.LastUse}
		if b.Uses > 0 {
			p.LastAction = "used"
		}
		if !b.Reviewed {
			p.LastAction = strings.TrimPrefix(p.LastAction+", not reviewed", ", ")
		}
		add(p, "", true)
	}
	slices.SortFunc(r.Principals, func(a, b Principal) int {
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return r
}

func grantAccess(g Grant) string {
	s := "call models " + strings.Join(g.Models, ",") + " (versions " + strings.Join(g.Versions, ",") + ")"
	if g.PHI {
		s += " with health data"
	}
	return s
}

// matches reports whether a SPIFFE id falls under a grant's pattern as
// the shipped policy reads patterns: an exact id, "<parent>/*" for a
// workload directly under parent, "spiffe://<trust-domain>/**" for every
// workload of the trust domain.
func matches(pattern, id string) bool {
	switch {
	case pattern == id:
		return true
	case strings.HasSuffix(pattern, "/**"):
		td := strings.TrimSuffix(pattern, "**")
		return strings.HasPrefix(id, td) && strings.Count(strings.TrimPrefix(pattern, "spiffe://"), "/") == 1
	case strings.HasSuffix(pattern, "/*"):
		parent := strings.TrimSuffix(pattern, "*")
		rest, ok := strings.CutPrefix(id, parent)
		return ok && rest != "" && !strings.Contains(rest, "/")
	}
	return false
}
