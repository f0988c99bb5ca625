// Package piiscan is the piiscan command: the piiguard scanner on stdin.
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

// Run executes piiscan and returns its exit code.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("piiscan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mode := fs.String("mode", "", "print the input transformed: tokenize, redact or hash (default: print findings)")
	format := fs.String("format", "auto", "input format: auto, json or text (JSON scans string values only)")
	stats := fs.Bool("stats", false, "print counts per class instead of findings")
	minConf := fs.Float64("min-confidence", 0.5, "drop findings below this confidence")
	hashKey := fs.String("hash-key", os.Getenv("PIISCAN_HASH_KEY"), "HMAC key for --mode hash ($PIISCAN_HASH_KEY)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: piiscan [flags] < input\n\nFinds personal data and secrets in text or JSON on stdin and prints one JSON finding per line.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	in, err := io.ReadAll(io.LimitReader(stdin, maxInput+1))
	if err != nil {
		fmt.Fprintln(stderr, "piiscan: read stdin:", err)
		return 1
	}
	if len(in) > maxInput {
		fmt.Fprintf(stderr, "piiscan: input is larger than %d bytes\n", maxInput)
		return 1
	}
	isJSON := false
	switch *format {
	case "json":
		isJSON = true
	case "text":
	case "auto":
		t := bytes.TrimLeft(in, " \t\r\n")
		isJSON = len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(in)
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
	r, err := transform.Apply(p, in, isJSON)
	if err != nil {
		fmt.Fprintln(stderr, "piiscan:", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	switch {
	case *stats:
		counts := map[string]int{}
		for c, n := range r.Counts {
			counts[string(c)] = n
		}
		_ = enc.Encode(counts)
	case *mode != "":
		_, _ = stdout.Write(r.Body)
	default:
		for _, f := range r.Findings {
			_ = enc.Encode(f)
		}
	}
	return 0
}
