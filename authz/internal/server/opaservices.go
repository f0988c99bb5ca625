package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/plugins/rest"

	"github.com/secureai-nexus/nexus/authz/internal/decisionlog/upload"
	"github.com/secureai-nexus/nexus/authz/internal/opaconfig"
)

// Version is reported in decision log labels and status reports.
const Version = "nexus-authz"

// instanceLabels are OPA's labels for this process: a random id, the
// version, and the configured labels (which may not replace those two).
func instanceLabels(configured map[string]string) map[string]string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	labels := map[string]string{}
	for k, v := range configured {
		labels[k] = v
	}
	labels["id"] = hex.EncodeToString(b)
	labels["version"] = Version
	return labels
}

// restTransport sends a request through an OPA service client, so the
// service's credentials (bearer, client TLS, OAuth2, …), headers and TLS
// settings apply exactly as OPA applies them.
type restTransport struct {
	client rest.Client
	base   string
}

func (t restTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	path := strings.TrimPrefix(req.URL.String(), t.base)
	c := t.client
	for k, vs := range req.Header {
		for _, v := range vs {
			c = c.WithHeader(k, v)
		}
	}
	if req.Body != nil {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		c = c.WithBytes(body)
	}
	return c.Do(req.Context(), req.Method, path)
}

// serviceHTTPClient is an *http.Client whose requests go through the named
// service's OPA client, and the service's URL.
func serviceHTTPClient(oc *opaconfig.Config, name string) (*http.Client, string, error) {
	rc, err := oc.RESTClient(name)
	if err != nil {
		return nil, "", err
	}
	base := strings.TrimSuffix(rc.Config().URL, "/")
	return &http.Client{Transport: restTransport{client: rc, base: base}}, base, nil
}

// startDecisionUpload starts OPA's decision log upload to the configured
// service, or returns nil when none is configured.
func startDecisionUpload(ctx context.Context, log *slog.Logger, oc *opaconfig.Config) (*upload.Uploader, error) {
	if oc == nil || oc.DecisionLogs == nil || oc.DecisionLogs.Service == "" {
		return nil, nil
	}
	dl := oc.DecisionLogs
	client, base, err := serviceHTTPClient(oc, dl.Service)
	if err != nil {
		return nil, fmt.Errorf("decision_logs.service: %w", err)
	}
	up, err := upload.New(upload.Config{
		Resource:             dl.Resource,
		MinDelay:             time.Duration(dl.Reporting.MinDelaySeconds) * time.Second,
		MaxDelay:             time.Duration(dl.Reporting.MaxDelaySeconds) * time.Second,
		UploadSizeLimitBytes: dl.Reporting.UploadSizeLimitBytes,
		BufferSizeLimitBytes: dl.Reporting.BufferSizeLimitBytes,
	}, client, base, nil, log.With("component", "decision_logs"))
	if err != nil {
		return nil, err
	}
	go up.Run(ctx)
	return up, nil
}

// runtimeTerm is what opa.runtime() returns, as OPA builds it: the
// environment, the config file's labels and nexus-authz's version.
func runtimeTerm(cfg Config) *ast.Term {
	env := map[string]any{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	labels := map[string]any{}
	for k, v := range cfg.Labels {
		labels[k] = v
	}
	v, err := ast.InterfaceToValue(map[string]any{
		"env": env, "version": Version, "config": map[string]any{"labels": labels},
	})
	if err != nil {
		return nil
	}
	return ast.NewTerm(v)
}
