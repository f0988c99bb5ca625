// Package piiscan is the piiscan command: the piiguard scanner over files
// or standard input.
package piiscan

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/secureai-nexus/nexus/filters/scan"
	"github.com/secureai-nexus/nexus/filters/transform"
)

const maxInput = 64 << 20

// Run executes piiscan and returns its exit code: 0, 1 when an input could
// not be read or scanned (the others still are), 2 for a usage error.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("piiscan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mode := fs.String("mode", "", "print the input transformed: tokenize, redact or hash (default: print findings)")
	format := fs.String("format", "auto", "input format: auto, json or text (JSON scans string values only)")
	stats := fs.Bool("stats", false, "print counts per class, over all inputs, instead of findings")
	minConf := fs.Float64("min-confidence", 0.5, "drop findings below this confidence")
	hashKey := fs.String("hash-key", os.Getenv("PIISCAN_HASH_KEY"), "HMAC key for --mode hash ($PIISCAN_HASH_KEY)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: piiscan [flags] [FILE...]

Finds personal data and secrets in text or JSON and prints one JSON finding
per line. Reads each FILE in turn, or standard input when there is none or
FILE is "-". With more than one input, each finding names its "file"; with
--mode, the inputs are printed transformed one after the other.`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch *format {
	case "json", "text", "auto":
	default:
		fmt.Fprintf(stderr, "piiscan: --format must be auto, json or text, got %q\n", *format)
		return 2
	}
	p := &transform.Policy{Modes: map[scan.Class]transform.Mode{}, Scanner: scan.Scanner{MinConfidence: *minConf}, HashKey: []byte(*hashKey), HashKeyID: "cli"}
	if *mode != "" {
		m, err := transform.ParseMode(*mode)
		if err != nil || m == transform.Block || m == transform.Report {
			fmt.Fprintf(stderr, "piiscan: --mode must be tokenize, redact or hash, got %q\n", *mode)
			return 2
		}
		if m == transform.Hash && *hashKey == "" {
			fmt.Fprintln(stderr, "piiscan: --mode hash needs --hash-key or $PIISCAN_HASH_KEY")
			return 2
		}
		for _, c := range scan.Classes() {
			p.Modes[c] = m
		}
	}
	names := fs.Args()
	if len(names) == 0 {
		names = []string{"-"}
	}
	enc := json.NewEncoder(stdout)
	counts := map[string]int{}
	code := 0
	for _, name := range names {
		in, err := readInput(name, stdin)
		if err != nil {
			fmt.Fprintln(stderr, "piiscan:", err)
			code = 1
			continue
		}
		r, err := transform.Apply(p, in, isJSON(*format, in))
		if err != nil {
			fmt.Fprintf(stderr, "piiscan: %s: %v\n", displayName(name), err)
			code = 1
			continue
		}
		switch {
		case *stats:
			for c, n := range r.Counts {
				counts[string(c)] += n
			}
		case *mode != "":
			_, _ = stdout.Write(r.Body)
		default:
			for _, f := range r.Findings {
				if len(names) > 1 {
					_ = enc.Encode(fileFinding{File: displayName(name), Finding: f})
				} else {
					_ = enc.Encode(f)
				}
			}
		}
	}
	if *stats {
		_ = enc.Encode(counts)
	}
	return code
}

// fileFinding is a finding with the input it was found in, when there is
// more than one.
type fileFinding struct {
	File string `json:"file"`
	scan.Finding
}

func displayName(name string) string {
	if name == "-" {
		return "(standard input)"
	}
	return name
}

// readInput reads one input whole, refusing one larger than maxInput.
func readInput(name string, stdin io.Reader) ([]byte, error) {
	r := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	in, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		if name != "-" {
			return nil, err // a file's error names its path already
		}
		return nil, fmt.Errorf("read standard input: %w", err)
	}
	if len(in) > maxInput {
		return nil, fmt.Errorf("%s: input is larger than %d bytes", displayName(name), maxInput)
	}
	return in, nil
}

// isJSON says whether an input is scanned as JSON (string values only).
func isJSON(format string, in []byte) bool {
	switch format {
	case "json":
		return true
	case "text":
		return false
	}
	t := bytes.TrimLeft(in, " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(in)
}
