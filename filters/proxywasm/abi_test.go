package proxywasm_test

import (
	"reflect"
	"testing"

	"github.com/secureai-nexus/nexus/filters/proxywasm"
)

func TestHeaderMapRoundTrip(t *testing.T) {
	hs := [][2]string{{":method", "POST"}, {"x-empty", ""}, {"content-type", "application/json"}}
	got, err := proxywasm.DecodeHeaders(proxywasm.EncodeHeaders(hs))
	if err != nil || !reflect.DeepEqual(got, hs) {
		t.Fatalf("round trip = %v, %v", got, err)
	}
	if got, err := proxywasm.DecodeHeaders(nil); err != nil || got != nil {
		t.Errorf("empty map = %v, %v", got, err)
	}
}

// FuzzDecodeHeaders: maps from the host never panic the guest.
func FuzzDecodeHeaders(f *testing.F) {
	f.Add(proxywasm.EncodeHeaders([][2]string{{"a", "b"}}))
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, b []byte) {
		hs, err := proxywasm.DecodeHeaders(b)
		if err == nil && len(b) > 0 {
			if got := proxywasm.EncodeHeaders(hs); len(got) > len(b) {
				t.Fatalf("decoded more than was given")
			}
		}
	})
}

// recordingHost notes local responses; the VM needs nothing else here.
type recordingHost struct {
	proxywasm.Host
	status int
	logs   []string
}

func (h *recordingHost) SendLocalResponse(status int, _ string, _ []byte, _ [][2]string) error {
	h.status = status
	return nil
}
func (h *recordingHost) Log(_ proxywasm.LogLevel, msg string) { h.logs = append(h.logs, msg) }
func (h *recordingHost) GetBuffer(proxywasm.BufferType, int, int) ([]byte, error) {
	return []byte(`bad`), nil
}

type failingPlugin struct{ proxywasm.Plugin }

func (failingPlugin) OnConfigure([]byte) error { return errBad }

type badErr struct{}

func (badErr) Error() string { return "modes.EMAIL: bad" }

var errBad = badErr{}

// TestUnconfiguredPluginRefusesStreams: a plugin whose configuration was
// refused never lets a request through unscanned.
func TestUnconfiguredPluginRefusesStreams(t *testing.T) {
	h := &recordingHost{}
	vm := proxywasm.NewVM(h, func() proxywasm.Plugin { return failingPlugin{} })
	vm.OnContextCreate(1, 0)
	if vm.OnConfigure(1, 3) {
		t.Fatal("a bad configuration was accepted")
	}
	if len(h.logs) != 1 || h.logs[0] != "piiguard: bad plugin configuration: modes.EMAIL: bad" {
		t.Errorf("logs = %v", h.logs)
	}
	vm.OnContextCreate(2, 1)
	if a := vm.OnRequestHeaders(2, 3, false); a != proxywasm.ActionPause || h.status != 500 {
		t.Errorf("stream of an unconfigured plugin: action %v status %d", a, h.status)
	}
	// An unknown stream id is refused too.
	h.status = 0
	vm.OnRequestHeaders(99, 1, true)
	if h.status != 500 {
		t.Errorf("unknown stream: status %d", h.status)
	}
}
