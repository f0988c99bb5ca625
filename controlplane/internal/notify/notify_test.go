package notify

import (
	"testing"
	"time"
)

func TestHubCoalescesAndUnsubscribes(t *testing.T) {
	var h Hub
	a, cancelA := h.Subscribe()
	b, cancelB := h.Subscribe()
	defer cancelB()
	h.Notify()
	h.Notify() // coalesced: a slow reader sees one signal, never blocks Notify
	for name, ch := range map[string]<-chan struct{}{"a": a, "b": b} {
		select {
		case <-ch:
		case <-time.After(time.Second):
			t.Fatalf("%s got no signal", name)
		}
		select {
		case <-ch:
			t.Fatalf("%s got two signals for two coalesced notifies", name)
		default:
		}
	}
	cancelA()
	h.Notify()
	select {
	case <-a:
		t.Fatal("an unsubscribed channel was signalled")
	case <-b:
	}
}
