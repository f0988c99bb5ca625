// Package upload sends decision log events to a remote service the way
// OPA's decision_logs plugin does, so a service built for OPA receives
// Nexus's: batches go by HTTP POST to <service URL>/logs, each body a
// gzip'd JSON array of events, at a random interval between a minimum and
// a maximum delay, retried with exponential backoff on failure. Events
// wait in a bounded buffer that drops the oldest, counted, when full.
//
// The Uploader takes events already encoded (decisionlog's FormatOPA lines,
// masked and chained), so it neither masks nor re-encodes anything.
package upload

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Config is the upload behaviour, after OPA's decision_logs settings. A
// zero field takes OPA's default.
type Config struct {
	// Resource is the path under the service URL that receives uploads
	// (decision_logs.resource); "/logs" unless set.
	Resource string
	// MinDelay and MaxDelay bound the wait after an upload, drawn at
	// random between them (reporting.min_delay_seconds and
	// max_delay_seconds); 300 s and 600 s unless set. After a failed
	// upload the wait backs off instead, from 100 ms by 1.6 times per
	// failure up to MaxDelay.
	MinDelay, MaxDelay time.Duration
	// UploadSizeLimitBytes bounds one request's gzip'd body
	// (reporting.upload_size_limit_bytes); 32768 unless set, and held
	// within OPA's bounds of 90 bytes and 4 GiB. An event that on its own
	// compresses past it cannot be sent and is dropped, counted.
	UploadSizeLimitBytes int64
	// BufferSizeLimitEvents bounds the events waiting to be sent
	// (reporting.buffer_size_limit_events); 10000 unless set.
	BufferSizeLimitEvents int
	// BufferSizeLimitBytes bounds their total size, uncompressed
	// (reporting.buffer_size_limit_bytes); no bound unless set. Past
	// either bound the oldest events are dropped, counted.
	BufferSizeLimitBytes int64
	// Timeout bounds one upload request; 30 s unless set.
	Timeout time.Duration
}

// OPA's defaults and bounds (its plugins/logs).
const (
	defaultResource        = "/logs"
	defaultMinDelay        = 300 * time.Second
	defaultMaxDelay        = 600 * time.Second
	defaultUploadSizeLimit = 32768
	minUploadSizeLimit     = 90
	maxUploadSizeLimit     = 4 << 30
	defaultBufferEvents    = 10000
	defaultTimeout         = 30 * time.Second
	retryBase              = 100 * time.Millisecond
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("decision log uploader is closed")

// StatusError is a response other than 2xx.
type StatusError struct{ Code int }

func (e *StatusError) Error() string {
	return fmt.Sprintf("decision log service answered %d %s", e.Code, http.StatusText(e.Code))
}

// Stats counts what became of the events given to Log.
type Stats struct {
	// Pending events are waiting to be sent.
	Pending int
	// Uploaded events were accepted by the service.
	Uploaded int64
	// Dropped events were pushed out of a full buffer (oldest first) or
	// given after Close.
	Dropped int64
	// TooLarge events compressed past the upload size limit on their own.
	TooLarge int64
	// Failures counts upload requests that failed; their events were
	// kept for the next attempt.
	Failures int64
}

// Uploader buffers events and uploads them.
type Uploader struct {
	cfg     Config
	client  *http.Client
	url     string
	headers map[string]string
	log     *slog.Logger

	mu           sync.Mutex
	pending      [][]byte
	pendingBytes int64
	stats        Stats
	reported     Stats // drops already logged
	closed       bool
	running      bool

	// uploadMu makes one upload at a time and guards zw and ratio.
	uploadMu sync.Mutex
	zw       *gzip.Writer
	// ratio is the uncompressed size per compressed byte last seen: the
	// guess of how many events fill a body before compressing them.
	ratio float64

	stop     chan struct{}
	stopOnce sync.Once
	runDone  chan struct{}
}

// New makes an uploader to the service at baseURL (OPA's
// services[_].url), sending headers (such as Authorization) with each
// request. A nil client is http.Client's zero value; log may be nil.
func New(cfg Config, client *http.Client, baseURL string, headers map[string]string, log *slog.Logger) (*Uploader, error) {
	base, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("decision log service URL: %w", err)
	}
	if (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("decision log service URL %q: want http:// or https:// and a host", baseURL)
	}
	if cfg.Resource == "" {
		cfg.Resource = defaultResource
	}
	if cfg.MinDelay <= 0 {
		cfg.MinDelay = defaultMinDelay
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = defaultMaxDelay
	}
	if cfg.MaxDelay < cfg.MinDelay {
		return nil, fmt.Errorf("decision log upload: max delay %s is less than min delay %s", cfg.MaxDelay, cfg.MinDelay)
	}
	switch {
	case cfg.UploadSizeLimitBytes == 0:
		cfg.UploadSizeLimitBytes = defaultUploadSizeLimit
	case cfg.UploadSizeLimitBytes < minUploadSizeLimit:
		cfg.UploadSizeLimitBytes = minUploadSizeLimit
	case cfg.UploadSizeLimitBytes > maxUploadSizeLimit:
		cfg.UploadSizeLimitBytes = maxUploadSizeLimit
	}
	if cfg.BufferSizeLimitEvents <= 0 {
		cfg.BufferSizeLimitEvents = defaultBufferEvents
	}
	if cfg.BufferSizeLimitBytes < 0 {
		return nil, fmt.Errorf("decision log upload: buffer size limit %d is negative", cfg.BufferSizeLimitBytes)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if client == nil {
		client = &http.Client{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hdrs := make(map[string]string, len(headers))
	for k, v := range headers {
		hdrs[k] = v
	}
	return &Uploader{
		cfg: cfg, client: client, log: log, headers: hdrs,
		url:   strings.TrimSuffix(baseURL, "/") + "/" + strings.TrimPrefix(cfg.Resource, "/"),
		zw:    gzip.NewWriter(io.Discard),
		ratio: 1,
		stop:  make(chan struct{}), runDone: make(chan struct{}),
	}, nil
}

// Log queues one encoded event (a JSON object, without a newline) and
// returns at once: it copies event and never waits for an upload. Its
// signature fits decisionlog.WithTee.
func (u *Uploader) Log(event []byte) {
	if len(event) == 0 {
		return
	}
	ev := bytes.Clone(event)
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		u.stats.Dropped++
		return
	}
	u.pending = append(u.pending, ev)
	u.pendingBytes += int64(len(ev))
	u.trimLocked()
}

// Write queues each newline-terminated line of p as an event, so that the
// Uploader can be a decisionlog.Logger's sink on its own. Logger writes
// whole lines only; a final piece without a newline is taken as a whole
// event too.
func (u *Uploader) Write(p []byte) (int, error) {
	u.mu.Lock()
	closed := u.closed
	u.mu.Unlock()
	if closed {
		return 0, ErrClosed
	}
	for line := range bytes.Lines(p) {
		u.Log(bytes.TrimSuffix(line, []byte{'\n'}))
	}
	return len(p), nil
}

// trimLocked drops the oldest events while the buffer is past a bound.
func (u *Uploader) trimLocked() {
	for len(u.pending) > 0 && (len(u.pending) > u.cfg.BufferSizeLimitEvents ||
		(u.cfg.BufferSizeLimitBytes > 0 && u.pendingBytes > u.cfg.BufferSizeLimitBytes)) {
		u.pendingBytes -= int64(len(u.pending[0]))
		u.pending[0] = nil
		u.pending = u.pending[1:]
		u.stats.Dropped++
	}
}

// Stats reports the counts so far.
func (u *Uploader) Stats() Stats {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.stats
	s.Pending = len(u.pending)
	return s
}

// Run uploads at OPA's pace until ctx ends or Close is called: at once,
// then after each upload a random wait between MinDelay and MaxDelay, or
// after a failure a backoff. Events of a failed upload stay buffered, ahead
// of newer ones. An Uploader has one Run: another call, or one after
// Close, returns at once. What Run leaves buffered, Close sends.
func (u *Uploader) Run(ctx context.Context) {
	u.mu.Lock()
	if u.closed || u.running {
		u.mu.Unlock()
		return
	}
	u.running = true
	u.mu.Unlock()
	defer close(u.runDone)

	retries := 0
	for {
		var wait time.Duration
		if err := u.upload(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			wait = backoff(retries, u.cfg.MaxDelay)
			retries++
			u.log.Warn("decision log upload failed", "error", err, "pending", u.Stats().Pending, "retry_in", wait)
		} else {
			retries = 0
			wait = u.cfg.MinDelay
			if span := u.cfg.MaxDelay - u.cfg.MinDelay; span > 0 {
				wait += rand.N(span)
			}
		}
		u.reportDrops()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-u.stop:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Flush uploads every buffered event now (OPA's manual trigger), stopping
// at the first failed request; its events and those after stay buffered.
func (u *Uploader) Flush(ctx context.Context) error {
	err := u.upload(ctx)
	u.reportDrops()
	return err
}

// Close stops Run, refuses further events, and uploads what is buffered,
// retrying with backoff until that succeeds or ctx ends; then it reports
// the events left unsent. Close the decisionlog.Logger that feeds the
// Uploader first, so that its last lines are buffered.
func (u *Uploader) Close(ctx context.Context) error {
	u.mu.Lock()
	u.closed = true
	running := u.running
	u.mu.Unlock()
	u.stopOnce.Do(func() { close(u.stop) })
	if running {
		select {
		case <-u.runDone:
		case <-ctx.Done():
			return fmt.Errorf("decision log upload: %d events not sent: %w", u.Stats().Pending, ctx.Err())
		}
	}
	for retries := 0; ; retries++ {
		err := u.Flush(ctx)
		pending := u.Stats().Pending
		if err == nil && pending == 0 {
			return nil
		}
		t := time.NewTimer(backoff(retries, u.cfg.MaxDelay))
		select {
		case <-ctx.Done():
			t.Stop()
			if err == nil {
				err = ctx.Err()
			}
			return fmt.Errorf("decision log upload: %d events not sent: %w", pending, err)
		case <-t.C:
		}
	}
}

// upload sends the buffered events in bodies within the size limit.
func (u *Uploader) upload(ctx context.Context) error {
	u.uploadMu.Lock()
	defer u.uploadMu.Unlock()
	u.mu.Lock()
	events := u.pending
	u.pending, u.pendingBytes = nil, 0
	u.mu.Unlock()

	for len(events) > 0 {
		body, n, tooLarge, err := u.nextBody(events)
		if tooLarge > 0 {
			u.log.Error("decision log events dropped: each compresses past the upload size limit", "events", tooLarge, "upload_size_limit_bytes", u.cfg.UploadSizeLimitBytes)
			u.mu.Lock()
			u.stats.TooLarge += int64(tooLarge)
			u.mu.Unlock()
			events = events[tooLarge:]
		}
		if err == nil && n > 0 {
			err = u.post(ctx, body)
		}
		if err != nil {
			u.requeue(events)
			return err
		}
		u.mu.Lock()
		u.stats.Uploaded += int64(n)
		u.mu.Unlock()
		events = events[n:]
	}
	return nil
}

// requeue puts events back ahead of those logged since they were taken.
func (u *Uploader) requeue(events [][]byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.stats.Failures++
	for _, ev := range events {
		u.pendingBytes += int64(len(ev))
	}
	u.pending = slices.Concat(events, u.pending)
	u.trimLocked()
}

// nextBody compresses as many events, from the first, as fit one body:
// first as many as the last compression ratio says will fit (OPA too
// starts from a guess and adapts), then fewer while the body is too big.
// Leading events that alone are too big are skipped and counted in
// tooLarge; n counts the events in body, after the skipped ones.
func (u *Uploader) nextBody(events [][]byte) (body []byte, n, tooLarge int, err error) {
	limit := u.cfg.UploadSizeLimitBytes
	for len(events) > 0 {
		budget := int64(float64(limit) * u.ratio * 0.95)
		size := int64(2 + len(events[0]))
		n = 1
		for n < len(events) && size+int64(1+len(events[n])) <= budget {
			size += int64(1 + len(events[n]))
			n++
		}
		for {
			if body, err = u.gzipArray(events[:n]); err != nil {
				return nil, 0, tooLarge, err
			}
			if int64(len(body)) <= limit {
				u.ratio = max(1, float64(size)/float64(len(body)))
				return body, n, tooLarge, nil
			}
			if n == 1 {
				break
			}
			// Fewer, in proportion to the overshoot, and at least one fewer.
			n = max(1, min(n-1, int(float64(n)*float64(limit)/float64(len(body))*0.9)))
			size = 2
			for _, ev := range events[:n] {
				size += int64(1 + len(ev))
			}
		}
		tooLarge++
		events = events[1:]
	}
	return nil, 0, tooLarge, nil
}

// gzipArray compresses events as one JSON array.
func (u *Uploader) gzipArray(events [][]byte) ([]byte, error) {
	var buf bytes.Buffer
	u.zw.Reset(&buf)
	// Writes to a bytes.Buffer do not fail: Close reports any error.
	_, _ = u.zw.Write([]byte{'['})
	for i, ev := range events {
		if i > 0 {
			_, _ = u.zw.Write([]byte{','})
		}
		_, _ = u.zw.Write(ev)
	}
	_, _ = u.zw.Write([]byte{']'})
	if err := u.zw.Close(); err != nil {
		return nil, fmt.Errorf("compress decision log events: %w", err)
	}
	return buf.Bytes(), nil
}

// post sends one body, as OPA's uploadChunk does.
func (u *Uploader) post(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, u.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("decision log upload: %w", err)
	}
	for k, v := range u.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := u.client.Do(req)
	if err != nil {
		return fmt.Errorf("decision log upload: %w", err)
	}
	// Read a little of the answer so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &StatusError{resp.StatusCode}
	}
	return nil
}

// reportDrops logs the events dropped since the last report, once per
// upload rather than once per event.
func (u *Uploader) reportDrops() {
	u.mu.Lock()
	dropped := u.stats.Dropped - u.reported.Dropped
	u.reported.Dropped = u.stats.Dropped
	u.mu.Unlock()
	if dropped > 0 {
		u.log.Warn("decision log events dropped from a full upload buffer: upload more often or raise the buffer limits", "events", dropped)
	}
}

// backoff is the wait before retry number retries (from 0), as OPA's: from
// 100 ms, 1.6 times per retry, capped at ceiling, ±20% so that many
// instances do not retry in step.
func backoff(retries int, ceiling time.Duration) time.Duration {
	d := float64(retryBase)
	for i := 0; i < retries && d < float64(ceiling); i++ {
		d *= 1.6
	}
	d = min(d, float64(ceiling))
	return time.Duration(d * (1 + 0.2*(rand.Float64()*2-1)))
}
