package keys

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Class is a retention class: how long data sealed under it is kept.
type Class struct {
	Name string `json:"name"`
	// Retention is how long after its bucket ends a DEK is destroyed;
	// zero (class "subject") keeps it until the subject is erased.
	Retention time.Duration `json:"retention"`
	// Bucket is the time span one DEK covers (zero for per-subject keys).
	Bucket time.Duration `json:"bucket"`
	// Rotation is the longest a DEK encrypts before a new one replaces
	// it, within its bucket; zero means the bucket length.
	Rotation time.Duration `json:"rotation"`
	// PerSubject classes key each data subject separately.
	PerSubject bool `json:"per_subject"`
}

// Class names the defaults use.
const (
	ClassInference = "inference"
	ClassLogs      = "logs"
	ClassSubject   = "subject"
)

// DefaultClasses are the seed's: inference data kept 24 h under hourly
// DEKs (rotation every hour meets the 4 h asked), logs kept 30 days under
// daily DEKs, and per-subject keys kept until erasure.
func DefaultClasses() map[string]Class {
	return map[string]Class{
		ClassInference: {Name: ClassInference, Retention: 24 * time.Hour, Bucket: time.Hour},
		ClassLogs:      {Name: ClassLogs, Retention: 30 * 24 * time.Hour, Bucket: 24 * time.Hour},
		ClassSubject:   {Name: ClassSubject, PerSubject: true},
	}
}

// rotation is the class's effective DEK lifetime for encryption.
func (c Class) rotation() time.Duration {
	r := c.Rotation
	if r <= 0 || (c.Bucket > 0 && r > c.Bucket) {
		r = c.Bucket
	}
	return r
}

// bucketOf is the [start, end) bucket holding t.
func (c Class) bucketOf(t time.Time) (time.Time, time.Time) {
	start := t.UTC().Truncate(c.Bucket)
	return start, start.Add(c.Bucket)
}

// Validate reports what is wrong with c.
func (c Class) Validate() error {
	switch {
	case !validName(c.Name):
		return fmt.Errorf("class %q: name must be 1-32 of a-z, 0-9, - and _", c.Name)
	case c.PerSubject && (c.Bucket != 0 || c.Retention != 0):
		return fmt.Errorf("class %s: a per-subject class has no bucket or retention; it is kept until erasure", c.Name)
	case c.PerSubject:
		return nil
	case c.Bucket < time.Minute:
		return fmt.Errorf("class %s: bucket must be at least 1m, got %v", c.Name, c.Bucket)
	case c.Retention <= 0:
		return fmt.Errorf("class %s: retention must be positive, got %v", c.Name, c.Retention)
	case c.Rotation < 0:
		return fmt.Errorf("class %s: rotation must not be negative", c.Name)
	}
	return nil
}

func validName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ApplyRetention reads --retention values, CLASS=DURATION[/BUCKET], onto
// classes: an existing class gets a new retention (and bucket), a new name
// becomes a class of its own with daily buckets unless one is given.
func ApplyRetention(classes map[string]Class, specs []string) (map[string]Class, error) {
	out := maps.Clone(classes)
	for _, spec := range specs {
		name, val, ok := strings.Cut(spec, "=")
		if !ok {
			return nil, fmt.Errorf("--retention %q: want CLASS=DURATION[/BUCKET], e.g. inference=24h/1h", spec)
		}
		ret, bucket, hasBucket := strings.Cut(val, "/")
		c, known := out[name]
		if !known {
			c = Class{Name: name, Bucket: 24 * time.Hour}
		}
		if c.PerSubject {
			return nil, fmt.Errorf("--retention %q: class %s is kept until each subject's erasure; it takes no retention", spec, name)
		}
		d, err := parseDuration(ret)
		if err != nil {
			return nil, fmt.Errorf("--retention %q: retention: %w", spec, err)
		}
		c.Retention = d
		if hasBucket {
			if c.Bucket, err = parseDuration(bucket); err != nil {
				return nil, fmt.Errorf("--retention %q: bucket: %w", spec, err)
			}
		} else if c.Bucket > d {
			c.Bucket = d
		}
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("--retention %q: %w", spec, err)
		}
		out[name] = c
	}
	return out, nil
}

func sortedClasses(classes map[string]Class) []Class {
	out := make([]Class, 0, len(classes))
	for _, n := range slices.Sorted(maps.Keys(classes)) {
		out = append(out, classes[n])
	}
	return out
}

// MarshalJSON writes durations as Go duration strings and in seconds, so
// "24h0m0s" reads as such rather than as nanoseconds.
func (c Class) MarshalJSON() ([]byte, error) {
	type view struct {
		Name             string `json:"name"`
		Retention        string `json:"retention,omitempty"`
		RetentionSeconds int64  `json:"retention_seconds,omitempty"`
		Bucket           string `json:"bucket,omitempty"`
		Rotation         string `json:"rotation,omitempty"`
		PerSubject       bool   `json:"per_subject"`
	}
	v := view{Name: c.Name, PerSubject: c.PerSubject}
	if !c.PerSubject {
		v.Retention, v.RetentionSeconds = c.Retention.String(), int64(c.Retention/time.Second)
		v.Bucket, v.Rotation = c.Bucket.String(), c.rotation().String()
	}
	return json.Marshal(v)
}

// parseDuration takes Go durations and whole days ("30d"), as retention
// is usually said.
func parseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 1 || days > 36500 {
			return 0, fmt.Errorf("%q: want whole days 1-36500 (e.g. 30d) or a Go duration (e.g. 720h)", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}
