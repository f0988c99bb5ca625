//go:build !wasm && !scan_dismiss

package scan

// dismissByLetter: see dismiss_on.go.
const dismissByLetter = false
