package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/secureai-nexus/nexus/authz/internal/opaconfig"
	"github.com/secureai-nexus/nexus/authz/internal/server"
)

// runOPA is opa-envoy-plugin's command line: `run --server --config-file
// cfg.yaml [--addr HTTP] PATH…`, so a deployment that starts
// opa-envoy-plugin starts nexus-authz unchanged. As in OPA, --addr is the
// HTTP API's address; the ext_authz gRPC address is the config file's
// plugins.envoy_ext_authz_grpc.addr.
func runOPA(args []string) int {
	log, cfg, err := parseRun(args, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nexus-authz run: %v\n", err)
		return 2
	}
	return serve(log, cfg)
}

// parseRun reads the run command line and its config file into the
// server's configuration.
func parseRun(args []string, logTo io.Writer) (*slog.Logger, server.Config, error) {
	fs := flag.NewFlagSet("nexus-authz run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var cfg server.Config
	var (
		isServer, bundleMode, watch, skipVersion, disableTelemetry, v1Compat bool
		configFile, logLevel, logFormat, diagAddr                            string
		sets, setFiles                                                       maskList
	)
	alias := func(p *bool, names ...string) {
		for _, n := range names {
			fs.BoolVar(p, n, false, "")
		}
	}
	alias(&isServer, "server", "s")
	alias(&bundleMode, "bundle", "b")
	alias(&watch, "watch", "w")
	alias(&skipVersion, "skip-version-check")
	alias(&disableTelemetry, "disable-telemetry")
	alias(&v1Compat, "v1-compatible")
	for _, n := range []string{"config-file", "c"} {
		fs.StringVar(&configFile, n, "", "")
	}
	for _, n := range []string{"addr", "a"} {
		fs.StringVar(&cfg.HTTPAddr, n, "localhost:8181", "")
	}
	for _, n := range []string{"log-level", "l"} {
		fs.StringVar(&logLevel, n, "info", "")
	}
	fs.StringVar(&logFormat, "log-format", "json", "")
	fs.StringVar(&diagAddr, "diagnostic-addr", "", "")
	var ignore maskList
	fs.Var(&ignore, "ignore", "")
	fs.Var(&sets, "set", "")
	fs.Var(&setFiles, "set-file", "")
	for _, n := range []string{"h2c", "tls-cert-file", "tls-private-key-file", "tls-ca-cert-file", "authentication", "authorization", "history", "format", "unix-socket-perm"} {
		n := n
		fs.Func(n, "", func(string) error {
			return fmt.Errorf("--%s is not supported by nexus-authz (see docs/policy-authoring.md, \"Moving from opa-envoy-plugin\")", n)
		})
	}
	tuning := nexusFlags(fs, &cfg)

	// OPA's command line takes flags among the paths.
	var paths []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, cfg, err
		}
		if fs.NArg() == 0 {
			break
		}
		paths = append(paths, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if !isServer {
		return nil, cfg, errors.New("only server mode is supported: pass --server (as opa-envoy-plugin is started)")
	}
	log, err := newLogger(logTo, logLevel, logFormat)
	if err != nil {
		return nil, cfg, err
	}
	oc, err := opaconfig.Load(configFile, opaconfig.Options{Set: sets, SetFile: setFiles})
	if err != nil {
		return nil, cfg, err
	}
	for _, w := range oc.Warnings {
		log.Warn("config", "warning", w)
	}
	tuning.apply(&cfg)
	explicitLog := false
	fs.Visit(func(f *flag.Flag) { explicitLog = explicitLog || f.Name == "decision-log" })
	if err := server.ApplyOPAConfig(&cfg, oc, paths, explicitLog); err != nil {
		return nil, cfg, err
	}
	cfg.DiagnosticAddr = diagAddr
	cfg.PolicyPathsAsBundles = bundleMode
	cfg.Ignore = ignore
	_ = watch // policy paths are always watched
	return log, cfg, nil
}

// newLogger maps OPA's --log-level and --log-format onto slog.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "info":
		l = slog.LevelInfo
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "json", "json-pretty":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want json, json-pretty or text", format)
}
