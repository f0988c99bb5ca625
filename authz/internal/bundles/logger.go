package bundles

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/open-policy-agent/opa/v1/logging"
)

// opaLogger lets OPA's download and rest packages log through slog rather
// than OPA's global logrus logger.
type opaLogger struct {
	l *slog.Logger
}

var _ logging.Logger = opaLogger{}

func (o opaLogger) Debug(f string, a ...any) { o.log(slog.LevelDebug, f, a) }
func (o opaLogger) Info(f string, a ...any)  { o.log(slog.LevelInfo, f, a) }
func (o opaLogger) Warn(f string, a ...any)  { o.log(slog.LevelWarn, f, a) }
func (o opaLogger) Error(f string, a ...any) { o.log(slog.LevelError, f, a) }

func (o opaLogger) log(level slog.Level, f string, a []any) {
	ctx := context.Background()
	if !o.l.Enabled(ctx, level) {
		return
	}
	o.l.Log(ctx, level, fmt.Sprintf(f, a...))
}

func (o opaLogger) WithFields(fields map[string]any) logging.Logger {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	args := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		args = append(args, k, fields[k])
	}
	return opaLogger{l: o.l.With(args...)}
}

// GetLevel tells OPA's packages whether to build debug messages, which for
// the rest client means dumping responses.
func (o opaLogger) GetLevel() logging.Level {
	ctx := context.Background()
	switch {
	case o.l.Enabled(ctx, slog.LevelDebug):
		return logging.Debug
	case o.l.Enabled(ctx, slog.LevelInfo):
		return logging.Info
	case o.l.Enabled(ctx, slog.LevelWarn):
		return logging.Warn
	}
	return logging.Error
}

// SetLevel is a no-op: the slog handler owns the level.
func (opaLogger) SetLevel(logging.Level) {}
