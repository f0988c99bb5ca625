// Package decisionlog writes one JSON line per decision, hash-chained so a
// removed or edited line is detectable, with sensitive input fields masked.
// Writing never blocks a decision: lines queue to a writer goroutine, and
// when the queue is full they are dropped, counted, and the gap recorded
// in the chain. Lines are in Nexus's own shape or, for tools that read
// OPA's, OPA decision log events (Format).
package decisionlog

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Entry is one decision.
type Entry struct {
	Type       string `json:"type"` // "decision" or "gap"
	DecisionID string `json:"decision_id,omitempty"`
	// TraceID and SpanID are the decision's span (W3C hex), so an operator
	// goes from a line to its trace; OPA's names for them.
	TraceID        string    `json:"trace_id,omitempty"`
	SpanID         string    `json:"span_id,omitempty"`
	Time           time.Time `json:"time"`
	Caller         string    `json:"caller,omitempty"`
	Model          string    `json:"model,omitempty"`
	Version        string    `json:"version,omitempty"`
	Result         string    `json:"result,omitempty"` // allow | deny
	DryRun         bool      `json:"dry_run,omitempty"`
	HTTPStatus     int       `json:"http_status,omitempty"`
	Reason         string    `json:"reason,omitempty"`
	PolicyRevision string    `json:"policy_revision,omitempty"`
	Query          string    `json:"query,omitempty"`
	EvalMicros     int64     `json:"eval_us"`
	// Cached says the decision came from the policy set's decision cache.
	Cached bool `json:"cached,omitempty"`
	// BreakGlass names the break-glass (emergency access) grants the
	// decision was made under: every such decision is to be reviewed.
	BreakGlass []string `json:"break_glass,omitempty"`
	// Dropped counts lines lost to a full queue before this gap record.
	Dropped int64 `json:"dropped,omitempty"`
	Input   any   `json:"input,omitempty"`
	// PrevHash links to the line before; the hash of this line follows it.
	PrevHash string `json:"prev_hash"`

	// The fields below are written only in FormatOPA, under OPA's names;
	// FormatNexus lines stay as they were. The logger reads them from its
	// own goroutine: maps and values handed to Log must not change after.

	// Path is the decision's path as OPA writes it: the query's reference
	// without "data." and with "/" between segments, "envoy/authz/allow".
	// Left empty, it is derived from Query when Query is a plain dotted
	// reference.
	Path string `json:"-"`
	// RawResult is the policy's result value as evaluated, before Nexus
	// interprets it; nil for an undefined decision (then no "result").
	RawResult any `json:"-"`
	// Labels identify the instance: OPA writes "id" (unique per process)
	// and "version" (of the server) and the operator's configured labels.
	Labels map[string]string `json:"-"`
	// Bundles maps each bundle that served the decision to its revision.
	Bundles map[string]string `json:"-"`
	// Metrics are OPA's performance metrics, in nanoseconds, such as
	// "timer_rego_query_eval_ns" and "timer_server_handler_ns". Left nil,
	// a decision gets timer_server_handler_ns from EvalMicros.
	Metrics map[string]int64 `json:"-"`
	// Masked lists the JSON pointers whose values were replaced (by the
	// Masker, or by an upsert of the set's mask policy): OPA's "masked".
	Masked []string `json:"-"`
	// Erased lists the pointers the set's mask policy removed: OPA's
	// "erased".
	Erased []string `json:"-"`

	// Hidden are the values the masks replaced, by pointer, when the
	// logger keeps them sealed (WithSealer): sealed on the logger's
	// goroutine into Sealed, never written as they are.
	Hidden map[string]any `json:"-"`
	// Sealed is Hidden encrypted under a leased data key, as written.
	Sealed *SealedInput `json:"-"`
}

// SealedInput is a line's masked values, encrypted: the data key's id
// (leased from the control plane's keyring, destroyed with its retention
// bucket) and the AES-256-GCM ciphertext of their JSON.
type SealedInput struct {
	Key  string `json:"key"`
	Data []byte `json:"data"`
}

// Sealer encrypts a line's hidden values; ok is false when it has no
// usable key (then the values are dropped, never written in the clear).
type Sealer interface {
	Seal(decisionID string, plaintext []byte) (SealedInput, bool)
}

// Genesis is the previous hash of a chain's first line.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// Masker replaces sensitive values in the input with a marker.
type Masker struct {
	masks    []mask // sorted by pointer
	pointers map[string]bool
}

type mask struct {
	pointer string // as configured
	segs    []string
}

// MaskMarker replaces a masked value; the key stays so the input's shape
// is visible.
const MaskMarker = "**masked**"

// DefaultMasks are the fields masked unless configured otherwise: the
// credentials and the body, which may carry personal data.
func DefaultMasks() []string {
	return []string{
		"/input/attributes/request/http/headers/authorization",
		"/input/attributes/request/http/headers/proxy-authorization",
		"/input/attributes/request/http/headers/cookie",
		"/input/attributes/request/http/headers/x-api-key",
		"/input/attributes/request/http/body",
		"/input/attributes/request/http/rawBody",
		"/input/parsed_body",
	}
}

// NewMasker parses JSON pointers rooted at /input.
func NewMasker(pointers []string) (*Masker, error) {
	m := &Masker{pointers: map[string]bool{}}
	for _, p := range pointers {
		if !strings.HasPrefix(p, "/input/") {
			return nil, fmt.Errorf("mask %q must be a JSON pointer under /input/", p)
		}
		if m.pointers[p] {
			continue
		}
		var segs []string
		for _, s := range strings.Split(strings.TrimPrefix(p, "/input/"), "/") {
			s = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
			segs = append(segs, s)
		}
		m.pointers[p] = true
		m.masks = append(m.masks, mask{p, segs})
	}
	// In pointer order, as OPA applies a mask policy's set of pointers: a
	// value and one inside it are then reported as the outer one alone.
	slices.SortFunc(m.masks, func(a, b mask) int { return strings.Compare(a.pointer, b.pointer) })
	return m, nil
}

// Masks says whether the value at a JSON pointer under /input is masked
// as a whole (not only parts of it).
func (m *Masker) Masks(pointer string) bool { return m.pointers[pointer] }

// MaskKeeping is Mask that also returns the values it replaced, by
// pointer, for a Sealer to keep encrypted; the input itself is masked as
// Mask masks it.
func (m *Masker) MaskKeeping(input map[string]any) ([]string, map[string]any) {
	hidden := map[string]any{}
	masked := m.mask(input, hidden)
	return masked, hidden
}

// Mask replaces each masked value present in input (in place) and returns
// the pointers, as configured, whose values it replaced: Entry.Masked.
// An absent or null value is left alone and not reported, as OPA reports
// only the pointers its mask actually changed.
func (m *Masker) Mask(input map[string]any) []string { return m.mask(input, nil) }

func (m *Masker) mask(input map[string]any, hidden map[string]any) []string {
	var masked []string
	for _, mk := range m.masks {
		var cur any = input
		for i, seg := range mk.segs {
			obj, ok := cur.(map[string]any)
			if !ok {
				break
			}
			v, ok := obj[seg]
			if !ok {
				break
			}
			if i == len(mk.segs)-1 {
				if v != nil {
					if hidden != nil {
						hidden[mk.pointer] = v
					}
					obj[seg] = MaskMarker
					masked = append(masked, mk.pointer)
				}
				break
			}
			cur = v
		}
	}
	return masked
}

// Metrics is what the logger reports.
type Metrics interface {
	LogDropped()
	LogWriteError()
}

// Logger queues entries and writes them, chained, to a sink.
type Logger struct {
	sink    io.Writer
	metrics Metrics
	format  Format
	tee     func(line []byte)
	sealer  Sealer
	queue   chan Entry
	dropped atomic.Int64
	done    chan struct{}
	once    sync.Once
	// closing guards queue against a Log racing Close: a check still
	// running when the server stops must not send on a closed channel.
	closing sync.RWMutex
	closed  bool

	// Owned by run.
	prev    string
	batch   []byte // whole lines waiting for one Write
	scratch []byte // the line being sealed, reused
	// batchHead is the chain head once the batch is written, and
	// batchLines how many lines the batch holds.
	batchHead  string
	batchLines int64

	// head is the chain's head as the sink last accepted it: what an
	// anchor in the audit log may name.
	headMu sync.Mutex
	head   Head
}

// Head is the chain's last line as written to the sink.
type Head struct {
	// Hash is the last written line's hash (Genesis, or the chain this
	// logger continued, before it writes any).
	Hash string `json:"hash"`
	// Lines counts lines this logger wrote; Dropped lines lost to a full
	// queue; WriteErrors Writes the sink failed (their lines are lost and
	// the chain shows the break).
	Lines       int64     `json:"lines"`
	Dropped     int64     `json:"dropped"`
	WriteErrors int64     `json:"write_errors"`
	Time        time.Time `json:"time,omitzero"`
}

// Head returns the chain's head as last written.
func (l *Logger) Head() Head {
	l.headMu.Lock()
	defer l.headMu.Unlock()
	h := l.head
	h.Dropped += l.dropped.Load()
	return h
}

// batchBytes bounds the lines gathered into one Write.
const batchBytes = 64 << 10

// maxScratch bounds the sealing buffer kept between lines, so that one
// huge input does not pin its size for the logger's life.
const maxScratch = 1 << 20

// Option configures a Logger.
type Option func(*Logger)

// WithFormat sets the lines' format; FormatNexus unless given.
func WithFormat(f Format) Option { return func(l *Logger) { l.format = f } }

// WithSealer keeps the values the masks hide, encrypted by s, in each
// line's sealed_input (Nexus format only).
func WithSealer(s Sealer) Option { return func(l *Logger) { l.sealer = s } }

// WithTee hands every sealed line, without its newline, to tee as well
// as to the sink, in chain order, so another destination (an
// upload.Uploader's Log) gets the very lines the file gets and the Logger
// stays the one place lines are made. tee sees each line before the sink's
// Write, including lines that Write then fails to store. It is called from
// the logger's goroutine and must not block; line is valid only during
// the call.
func WithTee(tee func(line []byte)) Option { return func(l *Logger) { l.tee = tee } }

// New starts a logger writing to sink. prev continues an existing chain
// (Genesis for a new one). queue bounds the lines waiting to be written.
//
// Each Write to sink carries one or more whole lines and nothing else, so
// a sink that rotates between Writes (RotatingFile) never splits a line.
func New(sink io.Writer, prev string, queue int, metrics Metrics, opts ...Option) *Logger {
	if prev == "" {
		prev = Genesis
	}
	l := &Logger{sink: sink, metrics: metrics, queue: make(chan Entry, queue), prev: prev, done: make(chan struct{})}
	l.head.Hash = prev
	for _, o := range opts {
		o(l)
	}
	go l.run()
	return l
}

// Log queues e without blocking; a full queue drops it.
func (l *Logger) Log(e Entry) {
	e.Type = "decision"
	l.closing.RLock()
	defer l.closing.RUnlock()
	if l.closed {
		l.dropped.Add(1)
		l.metrics.LogDropped()
		return
	}
	select {
	case l.queue <- e:
	default:
		l.dropped.Add(1)
		l.metrics.LogDropped()
	}
}

// Close flushes queued lines and stops the writer; a later Log is counted
// as dropped.
func (l *Logger) Close() {
	l.once.Do(func() {
		l.closing.Lock()
		l.closed = true
		close(l.queue)
		l.closing.Unlock()
	})
	<-l.done
}

// run gathers queued lines into a batch that is written whenever the queue
// runs dry or the next line would not fit: under load many lines share one
// Write, idle lines still reach the sink at once.
func (l *Logger) run() {
	defer close(l.done)
	l.batch = make([]byte, 0, batchBytes)
	for e := range l.queue {
		if n := l.dropped.Swap(0); n > 0 {
			l.headMu.Lock()
			l.head.Dropped += n
			l.headMu.Unlock()
			// The gap carries the next decision's labels: in FormatOPA
			// they say which instance lost the lines.
			l.add(Entry{Type: "gap", Time: time.Now().UTC(), Dropped: n, Labels: e.Labels})
		}
		l.add(e)
		if len(l.queue) == 0 {
			l.flush()
		}
	}
	l.flush()
}

// add seals e after the chain head and adds its line to the batch. The
// batch is cut only between lines (a bufio.Writer would cut it at its size,
// mid-line, and a rotating sink would then split the line across files); a
// line larger than a whole batch is written on its own.
func (l *Logger) add(e Entry) {
	if len(e.Hidden) > 0 {
		if l.sealer != nil && l.format == FormatNexus {
			if raw, err := json.Marshal(e.Hidden); err == nil {
				if s, ok := l.sealer.Seal(e.DecisionID, raw); ok {
					e.Sealed = &s
				} else {
					l.metrics.LogWriteError()
				}
				clear(raw)
			}
		}
		e.Hidden = nil
	}
	line, hash, err := appendSealed(l.scratch[:0], l.format, &e, l.prev)
	if err != nil {
		l.metrics.LogWriteError()
		return
	}
	l.prev = hash
	if cap(line) <= maxScratch {
		l.scratch = line
	}
	if l.tee != nil {
		l.tee(line[:len(line)-1])
	}
	if len(l.batch)+len(line) > cap(l.batch) {
		l.flush()
	}
	if len(line) > cap(l.batch) {
		l.write(line, hash, 1)
		return
	}
	l.batch = append(l.batch, line...)
	l.batchHead, l.batchLines = hash, l.batchLines+1
}

// flush writes the batch, if any, in one Write.
func (l *Logger) flush() {
	if len(l.batch) > 0 {
		l.write(l.batch, l.batchHead, l.batchLines)
		l.batch, l.batchLines = l.batch[:0], 0
	}
}

// write hands whole lines to the sink, ending in the line hashed head. A
// failed Write loses them: the next line's previous-hash then names a line
// the sink does not hold, which Verify reports where it happened.
func (l *Logger) write(p []byte, head string, lines int64) {
	_, err := l.sink.Write(p)
	if err != nil {
		l.metrics.LogWriteError()
	}
	l.headMu.Lock()
	defer l.headMu.Unlock()
	if err != nil {
		l.head.WriteErrors++
		return
	}
	l.head.Hash, l.head.Lines, l.head.Time = head, l.head.Lines+lines, time.Now().UTC()
}

// Seal renders e after prev as a FormatNexus line whose last field is the
// hash of everything before it.
func Seal(e Entry, prev string) ([]byte, string, error) {
	return FormatNexus.Seal(e, prev)
}

// appendSealed appends e's sealed line in format f, newline included, to b.
func appendSealed(b []byte, f Format, e *Entry, prev string) ([]byte, string, error) {
	e.PrevHash = prev
	start := len(b)
	var err error
	if f == FormatOPA {
		b, err = appendOPA(b, e)
	} else {
		b, err = appendEntry(b, e)
	}
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(b[start:])
	hash := hex.EncodeToString(sum[:])
	b = append(b[:len(b)-1], `,"hash":"`...)
	b = append(b, hash...)
	b = append(b, "\"}\n"...)
	return b, hash, nil
}

// Verification is the result of checking log files.
type Verification struct {
	Lines int
	Head  string
	// Continues is set when the first line links to a chain that began in
	// an earlier, rotated-away file.
	Continues bool
	// AnchorFile and AnchorLine locate the line whose hash was anchored
	// (VerifyAnchored); empty when it was not found.
	AnchorFile string `json:"anchor_file,omitempty"`
	AnchorLine int    `json:"anchor_line,omitempty"`
}

// BrokenError says where a chain breaks.
type BrokenError struct {
	File   string
	Line   int
	Reason string
}

func (e *BrokenError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason) }

// Verify checks the chain across files given oldest first.
func Verify(files []string, open func(string) (io.ReadCloser, error)) (Verification, error) {
	return VerifyAnchored(files, open, "")
}

// ErrAnchorNotFound says the chain verifies but holds no line with the
// anchored hash: lines the control plane's audit log vouches for are gone
// (or the files are not the anchored log).
var ErrAnchorNotFound = errors.New("no line has the anchored hash")

// VerifyAnchored checks the chain and that one of its lines has the hash
// anchor — a head the control plane's audit log recorded, under a signed
// checkpoint — so everything up to that line is covered by the checkpoint.
func VerifyAnchored(files []string, open func(string) (io.ReadCloser, error), anchor string) (Verification, error) {
	var v Verification
	prev := ""
	for _, name := range files {
		f, err := open(name)
		if err != nil {
			return v, err
		}
		err = verifyOne(name, f, &prev, &v, anchor)
		f.Close()
		if err != nil {
			return v, err
		}
	}
	v.Head = prev
	if anchor != "" && v.AnchorLine == 0 {
		return v, fmt.Errorf("anchor %s: %w", anchor, ErrAnchorNotFound)
	}
	return v, nil
}

const hashSuffixLen = len(`,"hash":"`) + 64 + len(`"}`)

func verifyOne(name string, r io.Reader, prev *string, v *Verification, anchor string) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 64<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if len(line) < hashSuffixLen+2 || !bytes.HasPrefix(line[len(line)-hashSuffixLen:], []byte(`,"hash":"`)) {
			return &BrokenError{name, n, "line does not end with its hash"}
		}
		hash := string(line[len(line)-hashSuffixLen+len(`,"hash":"`) : len(line)-2])
		body := append(append([]byte{}, line[:len(line)-hashSuffixLen]...), '}')
		sum := sha256.Sum256(body)
		if hex.EncodeToString(sum[:]) != hash {
			return &BrokenError{name, n, "content does not match its hash (edited)"}
		}
		var head struct {
			PrevHash string `json:"prev_hash"`
		}
		if err := json.Unmarshal(body, &head); err != nil {
			return &BrokenError{name, n, "not JSON: " + err.Error()}
		}
		switch {
		case *prev == "" && head.PrevHash != Genesis:
			v.Continues = true
		case *prev != "" && head.PrevHash != *prev:
			return &BrokenError{name, n, "previous-hash does not match the line before it (a line was removed or reordered)"}
		}
		*prev = hash
		v.Lines++
		if anchor != "" && hash == anchor {
			v.AnchorFile, v.AnchorLine = name, n
		}
	}
	if err := sc.Err(); err != nil {
		return &BrokenError{name, n + 1, err.Error()}
	}
	return nil
}

// LastHash returns the hash of the last complete line in r, so a restarted
// logger continues the chain; "" if there is none.
func LastHash(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 64<<20)
	last := ""
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) >= hashSuffixLen && bytes.HasPrefix(line[len(line)-hashSuffixLen:], []byte(`,"hash":"`)) {
			last = string(line[len(line)-hashSuffixLen+len(`,"hash":"`) : len(line)-2])
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return last, nil
}
