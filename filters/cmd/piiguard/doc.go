//go:build !wasip1

// Command piiguard is the proxy-wasm filter; it builds only for
// GOOS=wasip1 (see main.go).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "piiguard is a proxy-wasm filter: build it with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared (make wasm)")
	os.Exit(2)
}
