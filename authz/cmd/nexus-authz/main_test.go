package main

import "testing"

// Given only --addr, the HTTP listener takes the next port on its host, so
// a second instance does not collide with the first on 9192.
func TestHTTPAddrBeside(t *testing.T) {
	const def = "127.0.0.1:9192"
	for _, tt := range []struct{ grpc, want, err string }{
		{"127.0.0.1:7000", "127.0.0.1:7001", ""},
		{"[::1]:50051", "[::1]:50052", ""},
		{"localhost:7000", "localhost:7001", ""},
		// Plain HTTP stays on loopback when the gRPC listener does not.
		{"0.0.0.0:9191", "127.0.0.1:9192", ""},
		{":7000", "127.0.0.1:7001", ""},
		{"10.0.0.5:7000", "127.0.0.1:7001", ""},
		{"127.0.0.1:0", "127.0.0.1:0", ""},
		{"unix:///run/nexus/authz.sock", def, ""},
		{"127.0.0.1:65535", "", `--addr "127.0.0.1:65535": no next port for the HTTP listener; give --http-addr`},
		{"127.0.0.1:http", "127.0.0.1:81", ""},
		{"127.0.0.1:nosuch", "", `--addr "127.0.0.1:nosuch": port "nosuch" is not a port number or service name`},
		{"localhost", "", `--addr "localhost": address localhost: missing port in address`},
	} {
		got, err := httpAddrBeside(tt.grpc, def)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%s: error %v, want %q", tt.grpc, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.grpc, got, err, tt.want)
		}
	}
}
