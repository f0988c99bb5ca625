package opaconfig

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a config file.
type Problem struct {
	// Path is the key's full dotted path, e.g.
	// plugins.envoy_ext_authz_grpc.dry_run; empty for the whole file.
	Path string
	// Line and Column are 1-based; 0 when the value came from --set or
	// --set-file, or the YAML parser could not tell.
	Line, Column int
	// Origin is "--set" or "--set-file" for values given on the command
	// line, empty for the file.
	Origin string
	Msg    string
}

// format renders p the way compilers do, file:line:col: first, so editors
// can jump to it.
func (p Problem) format(file string) string {
	var b strings.Builder
	b.WriteString(file)
	switch {
	case p.Line > 0 && p.Column > 0:
		fmt.Fprintf(&b, ":%d:%d: ", p.Line, p.Column)
	case p.Line > 0:
		fmt.Fprintf(&b, ":%d: ", p.Line)
	default:
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		if p.Origin != "" {
			fmt.Fprintf(&b, " (from %s)", p.Origin)
		}
		b.WriteString(": ")
	} else if p.Origin != "" {
		fmt.Fprintf(&b, "%s: ", p.Origin)
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error lists every problem found in one config, so a user fixes them in
// one go rather than one per restart.
type Error struct {
	// File is the config file's name, or "(command line)" when there is
	// none.
	File     string
	Problems []Problem
}

func (e *Error) Error() string {
	if len(e.Problems) == 0 {
		return e.File + ": invalid config"
	}
	if len(e.Problems) == 1 {
		return e.Problems[0].format(e.File)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problems:", e.File, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.format(e.File))
	}
	return b.String()
}
