package opaconfig

import (
	"encoding/json"
	"encoding/pem"
	"net/url"
	"reflect"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/keys"
	"github.com/open-policy-agent/opa/v1/plugins/rest"
	"github.com/open-policy-agent/opa/v1/storage"
)

// dataPath checks a slash-separated path under data, as OPA's
// default_decision and mask_decision are.
func dataPath(s string) (ast.Ref, error) {
	if !strings.HasPrefix(s, "/") {
		s = "/" + s
	}
	p, ok := storage.ParsePath(s)
	if !ok {
		return nil, errInvalidPath
	}
	return p.Ref(ast.DefaultRootDocument), nil
}

const defaultResponseHeaderTimeoutSeconds = 10

func (d *decoder) services(v *val, cfg *Config) {
	switch v.kind {
	case kindNull:
	case kindMap:
		for i, name := range v.keys {
			d.service(v.vals[i], name, joinPath("services", name), cfg)
		}
	case kindList:
		// The list form exists for tools (Helm) that handle lists of
		// objects better than maps; each entry carries its name.
		for i, e := range v.items {
			path := indexPath("services", i)
			if e.kind != kindMap {
				d.fail(e, path, "must be a mapping, not %s", e.describe())
				continue
			}
			nv := e.get("name")
			name, _ := func() (string, bool) {
				if nv == nil {
					return "", false
				}
				s, ok := nv.scalar.(string)
				return s, ok
			}()
			if name == "" {
				d.fail(e, joinPath(path, "name"), "required in the list form of services")
				continue
			}
			if _, dup := cfg.Services[name]; dup {
				d.fail(nv, joinPath(path, "name"), "service %q is configured twice", name)
				continue
			}
			d.service(e, name, path, cfg)
		}
	default:
		d.fail(v, "services", "must be a mapping of name to service, or a list of services, not %s", v.describe())
	}
}

// credentialKinds are rest.Config's credentials fields by their keys.
func credentialKinds(rc *rest.Config) []string {
	var kinds []string
	cv := reflect.ValueOf(rc.Credentials)
	for _, f := range fieldsOf(cv.Type()) {
		if !cv.Field(f.index).IsNil() {
			kinds = append(kinds, f.name)
		}
	}
	return kinds
}

// service checks one service against OPA's own rest.Config type, so that
// every option the rest package implements is accepted and spelled as it
// expects.
func (d *decoder) service(v *val, name, path string, cfg *Config) {
	if v.kind != kindMap {
		d.fail(v, path, "must be a mapping, not %s", v.describe())
		return
	}
	var rc rest.Config
	n := len(d.problems)
	d.decode(v, reflect.ValueOf(&rc).Elem(), path)
	if len(d.problems) > n {
		return
	}
	s := &Service{
		Name:                         name,
		URL:                          rc.URL,
		Headers:                      rc.Headers,
		AllowInsecureTLS:             rc.AllowInsecureTLS,
		ResponseHeaderTimeoutSeconds: defaultResponseHeaderTimeoutSeconds,
	}
	if rc.ResponseHeaderTimeoutSeconds != nil {
		s.ResponseHeaderTimeoutSeconds = *rc.ResponseHeaderTimeoutSeconds
		if s.ResponseHeaderTimeoutSeconds < 0 {
			d.fail(v.get("response_header_timeout_seconds"), joinPath(path, "response_header_timeout_seconds"), "must not be negative")
		}
	}
	if rc.TLS != nil {
		s.CACert, s.SystemCARequired = rc.TLS.CACert, rc.TLS.SystemCARequired
	}
	if rc.Type != "" {
		d.fail(v.get("type"), joinPath(path, "type"), "service type %q is not supported: nexus-authz talks to HTTP bundle services only (no OCI registries)", rc.Type)
	}
	if rc.URL == "" {
		d.fail(v, joinPath(path, "url"), "required")
	} else if u, err := url.Parse(rc.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		d.fail(v.get("url"), joinPath(path, "url"), "%q is not an http:// or https:// URL", rc.URL)
	}
	credPath := joinPath(path, "credentials")
	switch kinds := credentialKinds(&rc); {
	case len(kinds) > 1:
		d.fail(v.get("credentials"), credPath, "%s are all set; configure one credential method", strings.Join(kinds, ", "))
	case len(kinds) == 1 && kinds[0] == "plugin":
		d.fail(v.get("credentials").get("plugin"), joinPath(credPath, "plugin"), "custom credential plugins are not supported by nexus-authz")
	case len(kinds) == 1:
		s.Credentials = kinds[0]
	}
	if b := rc.Credentials.Bearer; b != nil {
		s.Bearer = &BearerCredentials{Token: b.Token, TokenPath: b.TokenPath, Scheme: b.Scheme}
		if s.Bearer.Scheme == "" {
			s.Bearer.Scheme = "Bearer"
		}
		if b.Token != "" && b.TokenPath != "" {
			d.fail(v.get("credentials").get("bearer"), joinPath(credPath, "bearer"), "set token or token_path, not both")
		}
	}
	raw, err := json.Marshal(v.generic())
	if err == nil {
		// rest.New only decodes; a failure here is a type the reflective
		// check above let through.
		_, err = rest.New(raw, nil, rest.Name(name))
	}
	if err != nil {
		d.fail(v, path, "%v", err)
		return
	}
	s.raw = raw
	cfg.Services[name] = s
	cfg.ServiceNames = append(cfg.ServiceNames, name)
}

func (d *decoder) keys(v *val, cfg *Config) {
	if v.kind == kindNull {
		return
	}
	if v.kind != kindMap {
		d.fail(v, "keys", "must be a mapping of key id to key, not %s", v.describe())
		return
	}
	for i, id := range v.keys {
		e, path := v.vals[i], joinPath("keys", id)
		var kc keys.Config
		n := len(d.problems)
		d.decode(e, reflect.ValueOf(&kc).Elem(), path)
		if len(d.problems) > n {
			continue
		}
		one, err := json.Marshal(map[string]any{id: e.generic()})
		if err != nil {
			d.fail(e, path, "%v", err)
			continue
		}
		// OPA's parser injects the default algorithm and checks it.
		parsed, err := keys.ParseKeysConfig(one)
		if err != nil {
			d.fail(e, path, "%v", err)
			continue
		}
		k := parsed[id]
		if k.Key != "" && !strings.HasPrefix(k.Algorithm, "HS") {
			// OPA finds out only when the first signed bundle arrives.
			if b, _ := pem.Decode([]byte(k.Key)); b == nil {
				d.fail(e.get("key"), joinPath(path, "key"), "is not PEM-encoded; %s needs a PEM public key or certificate", k.Algorithm)
				continue
			}
		}
		cfg.Keys[id] = k
	}
}
