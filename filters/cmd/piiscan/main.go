// Command piiscan finds personal data and secrets in text or JSON on stdin,
// with the same scanner the piiguard filter runs.
package main

import (
	"os"

	"github.com/secureai-nexus/nexus/filters/internal/piiscan"
)

func main() { os.Exit(piiscan.Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
