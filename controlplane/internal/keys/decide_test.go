package keys_test

import (
	"slices"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/controlplane/internal/keys"
)

func TestDecide(t *testing.T) {
	classes := keys.DefaultClasses()
	h := func(hh int) time.Time { return time.Date(2026, 3, 1, hh, 0, 0, 0, time.UTC) }
	hour := func(id string, start int) keys.KeyState {
		return keys.KeyState{ID: id, Class: keys.ClassInference, BucketStart: h(start), BucketEnd: h(start + 1), CreatedAt: h(start)}
	}
	day2 := func(hh int) time.Time { return h(hh).Add(24 * time.Hour) }
	ptr := func(t time.Time) *time.Time { return &t }
	lifted := ptr(h(0))
	subjectKey := keys.KeyState{ID: "s", Class: keys.ClassSubject, Subject: subj, CreatedAt: h(1)}
	tests := []struct {
		name                   string
		keys                   []keys.KeyState
		holds                  []keys.Hold
		now                    time.Time
		destroy, held, unknown []string
	}{
		{name: "within retention", keys: []keys.KeyState{hour("a", 1)}, now: day2(2)},
		{name: "exactly at retention end is kept", keys: []keys.KeyState{hour("a", 1)}, now: day2(2)},
		{name: "just past retention", keys: []keys.KeyState{hour("a", 1)}, now: day2(2).Add(time.Second), destroy: []string{"a"}},
		{name: "only the expired bucket", keys: []keys.KeyState{hour("a", 1), hour("b", 2)}, now: day2(2).Add(time.Minute), destroy: []string{"a"}},
		{name: "already destroyed", keys: []keys.KeyState{func() keys.KeyState { k := hour("a", 1); k.Destroyed = true; return k }()}, now: day2(9)},
		{name: "class hold without range", keys: []keys.KeyState{hour("a", 1)}, now: day2(9),
			holds: []keys.Hold{{ID: "h1", Class: keys.ClassInference}}, held: []string{"a"}},
		{name: "hold of another class", keys: []keys.KeyState{hour("a", 1)}, now: day2(9),
			holds: []keys.Hold{{ID: "h1", Class: keys.ClassLogs}}, destroy: []string{"a"}},
		{name: "lifted hold", keys: []keys.KeyState{hour("a", 1)}, now: day2(9),
			holds: []keys.Hold{{ID: "h1", Class: keys.ClassInference, LiftedAt: lifted}}, destroy: []string{"a"}},
		{name: "hold range overlaps one bucket", keys: []keys.KeyState{hour("a", 1), hour("b", 3)}, now: day2(9),
			holds: []keys.Hold{{ID: "h1", Class: keys.ClassInference, From: ptr(h(1).Add(30 * time.Minute)), To: ptr(h(2))}}, destroy: []string{"b"}, held: []string{"a"}},
		{name: "hold range ends where bucket starts", keys: []keys.KeyState{hour("a", 2)}, now: day2(9),
			holds: []keys.Hold{{ID: "h1", Class: keys.ClassInference, To: ptr(h(2))}}, destroy: []string{"a"}},
		{name: "hold range starts where bucket ends", keys: []keys.KeyState{hour("a", 1)}, now: day2(9),
			holds: []keys.Hold{{ID: "h1", Class: keys.ClassInference, From: ptr(h(2))}}, destroy: []string{"a"}},
		{name: "subject keys never expire", keys: []keys.KeyState{subjectKey}, now: day2(9).Add(1000 * time.Hour)},
		{name: "unknown class kept and reported", keys: []keys.KeyState{{ID: "u", Class: "gone", BucketStart: h(1), BucketEnd: h(2)}}, now: day2(9), unknown: []string{"u"}},
		{name: "logs keep 30 days", keys: []keys.KeyState{{ID: "l", Class: keys.ClassLogs, BucketStart: h(0), BucketEnd: h(0).Add(24 * time.Hour)}},
			now: h(0).Add(30 * 24 * time.Hour)},
		{name: "logs go after 31 days", keys: []keys.KeyState{{ID: "l", Class: keys.ClassLogs, BucketStart: h(0), BucketEnd: h(0).Add(24 * time.Hour)}},
			now: h(0).Add(31*24*time.Hour + time.Second), destroy: []string{"l"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := keys.Decide(tt.keys, tt.holds, classes, tt.now)
			var destroy, held, unknown []string
			for _, k := range p.Destroy {
				destroy = append(destroy, k.ID)
			}
			for _, k := range p.Held {
				held = append(held, k.Key.ID)
			}
			for _, k := range p.Unknown {
				unknown = append(unknown, k.ID)
			}
			if !slices.Equal(destroy, tt.destroy) || !slices.Equal(held, tt.held) || !slices.Equal(unknown, tt.unknown) {
				t.Errorf("destroy %v held %v unknown %v; want %v %v %v", destroy, held, unknown, tt.destroy, tt.held, tt.unknown)
			}
		})
	}
}

func TestHoldCoversSubject(t *testing.T) {
	k := keys.KeyState{ID: "s", Class: keys.ClassSubject, Subject: subj, CreatedAt: time.Now()}
	if !(keys.Hold{Class: keys.ClassSubject, Subject: subj}).Covers(k) {
		t.Error("a hold on the subject does not cover their key")
	}
	if (keys.Hold{Class: keys.ClassSubject, Subject: "hmac-sha256:bbbbbbbbbbbbbbbb"}).Covers(k) {
		t.Error("a hold on another subject covers this one")
	}
	if !(keys.Hold{Class: keys.ClassSubject}).Covers(k) {
		t.Error("a hold on the whole class does not cover a subject")
	}
}
