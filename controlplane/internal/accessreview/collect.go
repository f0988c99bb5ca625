package accessreview

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/audit"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
)

// Store is what the review reads from the control plane's store.
type Store interface {
	Audit(ctx context.Context, after int64, limit int) ([]audit.Record, error)
	OpenJoinTokens(ctx context.Context, now time.Time) ([]store.JoinToken, error)
}

// Sources reads a review's inputs.
type Sources struct {
	Store Store
	// Authz are nexus-authz HTTP base URLs: their serving grants
	// (GET /v1/data/nexus/grants) and callers (GET /v1/nexus/access).
	Authz  []string
	Client *http.Client

	AdminToken               string
	OIDCIssuer, OIDCAudience string
	AdminSPIFFEIDs           []string
	// BreakGlass lists break-glass grants (nil: none are possible).
	BreakGlass func(ctx context.Context) ([]BreakGlass, error)
	Now        func() time.Time
}

// Review collects the inputs and builds the review. A source that cannot
// be read is named in Unavailable; only a store failure is an error.
func (s *Sources) Review(ctx context.Context) (Report, error) {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	in := Inputs{Now: now, AdminToken: s.AdminToken, OIDCIssuer: s.OIDCIssuer, OIDCAudience: s.OIDCAudience,
		AdminSPIFFEIDs: s.AdminSPIFFEIDs, Grants: map[string]Grant{}}
	for after := int64(0); ; {
		page, err := s.Store.Audit(ctx, after, 1000)
		if err != nil {
			return Report{}, fmt.Errorf("access review: read audit log: %w", err)
		}
		in.Audit = append(in.Audit, page...)
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].Seq
	}
	toks, err := s.Store.OpenJoinTokens(ctx, now)
	if err != nil {
		return Report{}, fmt.Errorf("access review: %w", err)
	}
	for _, t := range toks {
		in.JoinTokens = append(in.JoinTokens, JoinToken{HashPrefix: t.Hash[:min(16, len(t.Hash))], SPIFFEID: t.SPIFFEID, Created: t.CreatedAt, Expires: t.ExpiresAt})
	}
	if len(s.Authz) == 0 {
		in.Unavailable = append(in.Unavailable, "policy grants and callers: no nexus-authz configured (--authz-audit-feed)")
	}
	callers := map[string]Caller{}
	for _, base := range s.Authz {
		var grants struct {
			Result map[string]Grant `json:"result"`
		}
		if err := s.get(ctx, base, "/v1/data/nexus/grants", &grants); err != nil {
			in.Unavailable = append(in.Unavailable, fmt.Sprintf("policy grants from %s: %v", base, err))
		}
		for p, g := range grants.Result {
			in.Grants[p] = g
		}
		var access struct {
			Since   time.Time `json:"since"`
			Callers []Caller  `json:"callers"`
		}
		if err := s.get(ctx, base, "/v1/nexus/access", &access); err != nil {
			in.Unavailable = append(in.Unavailable, fmt.Sprintf("callers from %s: %v", base, err))
			continue
		}
		if in.CallersSince.IsZero() || access.Since.After(in.CallersSince) {
			in.CallersSince = access.Since
		}
		for _, c := range access.Callers {
			old := callers[c.SPIFFEID]
			if c.LastAllowed.After(old.LastAllowed) {
				old.LastAllowed = c.LastAllowed
			}
			if c.LastDenied.After(old.LastDenied) {
				old.LastDenied = c.LastDenied
			}
			old.SPIFFEID = c.SPIFFEID
			callers[c.SPIFFEID] = old
		}
	}
	for _, c := range callers {
		in.Callers = append(in.Callers, c)
	}
	if s.BreakGlass != nil {
		bg, err := s.BreakGlass(ctx)
		if err != nil {
			in.Unavailable = append(in.Unavailable, "break-glass grants: "+err.Error())
		}
		in.BreakGlass = bg
	}
	return Build(in), nil
}

// PolicyData reads a document of the serving policy's data from the first
// nexus-authz (GET /v1/data/PATH, OPA's data API), as the review reads the
// grants.
func (s *Sources) PolicyData(ctx context.Context, path string, v any) error {
	if len(s.Authz) == 0 {
		return errors.New("no nexus-authz is configured (--authz-audit-feed)")
	}
	if err := s.get(ctx, s.Authz[0], "/v1/data/"+path, v); err != nil {
		return fmt.Errorf("policy data from %s: %w", s.Authz[0], err)
	}
	return nil
}

func (s *Sources) get(ctx context.Context, base, p string, v any) error {
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	u.Path, u.RawQuery = p, ""
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s", resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(v)
}
