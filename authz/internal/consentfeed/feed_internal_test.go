package consentfeed

import (
	"bytes"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
)

func TestConsentDataRefusesWhatIsNotConsentData(t *testing.T) {
	roots := func(rs ...string) *[]string { return &rs }
	ok := map[string]any{"nexus": map[string]any{"consent": map[string]any{}, "breakglass": map[string]any{}}}
	for _, c := range []struct {
		name string
		b    bundle.Bundle
		want string
	}{
		{"data only", bundle.Bundle{Data: ok, Manifest: bundle.Manifest{Roots: roots(RootConsent, RootBreakGlass)}}, ""},
		{"a policy module", bundle.Bundle{Data: ok, Modules: []bundle.ModuleFile{{Path: "x.rego", Parsed: &ast.Module{}}}}, "policy modules"},
		{"another root", bundle.Bundle{Data: ok, Manifest: bundle.Manifest{Roots: roots("nexus")}}, `claims root "nexus"`},
		{"other data", bundle.Bundle{Data: map[string]any{"nexus": map[string]any{"consent": map[string]any{}}, "envoy": map[string]any{}}}, "data.envoy"},
		{"grants overwritten", bundle.Bundle{Data: map[string]any{"nexus": map[string]any{"consent": map[string]any{}, "grants": map[string]any{}}}}, "data.nexus.grants"},
		{"consent not an object", bundle.Bundle{Data: map[string]any{"nexus": map[string]any{"consent": []any{}}}}, "not an object"},
		{"no consent", bundle.Bundle{Data: map[string]any{"nexus": map[string]any{"breakglass": map[string]any{}}}}, "no data.nexus.consent"},
	} {
		_, err := consentData(&c.b)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.want)
		}
	}
}

func TestMergeLeavesTheBaseAlone(t *testing.T) {
	base := &bundle.Bundle{Data: map[string]any{"nexus": map[string]any{"grants": map[string]any{"a": 1}}}, Manifest: bundle.Manifest{Revision: "r1"}}
	data := map[string]any{"consent": map[string]any{"s": map[string]any{}}, "breakglass": map[string]any{}}
	out, err := merge(base, data, "c7", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := out.Data["nexus"].(map[string]any)["consent"]; !ok || out.Manifest.Revision != "r1+consent:c7" {
		t.Fatalf("merged %+v rev %s", out.Data, out.Manifest.Revision)
	}
	if _, ok := base.Data["nexus"].(map[string]any)["consent"]; ok {
		t.Fatal("the base bundle was changed")
	}
	stale, err := merge(base, data, "c7", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := stale.Data["nexus"].(map[string]any)["consent"]; ok || stale.Manifest.Revision != "r1+consent:none" {
		t.Fatalf("stale merge kept the data: %+v %s", stale.Data, stale.Manifest.Revision)
	}
	local := &bundle.Bundle{Data: map[string]any{"nexus": map[string]any{"consent": map[string]any{}}}}
	if _, err := merge(local, data, "c7", true); err == nil || !strings.Contains(err.Error(), "owns") {
		t.Fatalf("local consent data: %v", err)
	}
}

func TestNewRefusesUnsafeOptions(t *testing.T) {
	for _, c := range []struct {
		opts Options
		want string
	}{
		{Options{URL: "http://cp/b.tar.gz"}, "bearer token"},
		{Options{URL: "ftp://cp/b", Token: "t"}, "http(s) URL"},
		{Options{URL: "http://cp/b", Token: "t", LongPoll: 5_000_000_000, MaxStaleness: 5_000_000_000}, "shorter than"},
		{Options{URL: "http://cp/b", Token: "t", LongPoll: 1_500_000_000}, "whole seconds"},
	} {
		if _, err := New(nil, c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.opts, err, c.want)
		}
	}
}

// FuzzConsentBundle: whatever tarball the bundle service answers, OPA's
// reader and consentData refuse it or return only consent and break-glass
// objects.
func FuzzConsentBundle(f *testing.F) {
	good := bundle.Bundle{
		Manifest: bundle.Manifest{Revision: "r1", Roots: &[]string{RootConsent, RootBreakGlass}},
		Data:     map[string]any{"nexus": map[string]any{"consent": map[string]any{"s1": map[string]any{"research": map[string]any{"categories": []any{"health"}}}}, "breakglass": map[string]any{}}},
	}
	var buf bytes.Buffer
	if err := bundle.NewWriter(&buf).Write(good); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("not a tarball"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := bundle.NewReader(bytes.NewReader(raw)).Read()
		if err != nil {
			return
		}
		out, err := consentData(&b)
		if err != nil {
			return
		}
		for k, v := range out {
			if k != "consent" && k != "breakglass" {
				t.Fatalf("kept data.nexus.%s", k)
			}
			if _, ok := v.(map[string]any); !ok {
				t.Fatalf("data.nexus.%s is not an object", k)
			}
		}
	})
}
