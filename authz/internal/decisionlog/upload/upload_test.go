package upload_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/plugins/logs"

	"github.com/secureai-nexus/nexus/authz/internal/decisionlog"
	"github.com/secureai-nexus/nexus/authz/internal/decisionlog/upload"
)

// request is one upload as the service saw it.
type request struct {
	method, path string
	header       http.Header
	compressed   int
	events       []json.RawMessage
}

// service is a decision log service: it gunzips and decodes each upload,
// and answers with status(n) for the nth request (from 0).
type service struct {
	*httptest.Server
	mu       sync.Mutex
	requests []request
	got      chan request
}

func newService(t *testing.T, status func(n int) int) *service {
	t.Helper()
	s := &service{got: make(chan request, 1000)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read upload: %v", err)
			return
		}
		req := request{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), compressed: len(body)}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Errorf("upload is not gzip: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if err := json.NewDecoder(zr).Decode(&req.events); err != nil {
			t.Errorf("upload is not a JSON array: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		n := len(s.requests)
		s.requests = append(s.requests, req)
		s.mu.Unlock()
		code := http.StatusOK
		if status != nil {
			code = status(n)
		}
		w.WriteHeader(code)
		s.got <- req
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *service) all() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.requests...)
}

func event(i int) []byte { return fmt.Appendf(nil, `{"decision_id":"d-%d","result":true}`, i) }

func ids(events []json.RawMessage) []string {
	var out []string
	for _, e := range events {
		var v struct {
			DecisionID string `json:"decision_id"`
		}
		_ = json.Unmarshal(e, &v)
		out = append(out, v.DecisionID)
	}
	return out
}

func wantIDs(from, to int) string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("d-%d", i))
	}
	return strings.Join(out, ",")
}

func newUploader(t *testing.T, cfg upload.Config, s *service) *upload.Uploader {
	t.Helper()
	u, err := upload.New(cfg, s.Client(), s.URL+"/v1/", map[string]string{"Authorization": "Bearer t0ken", "Content-Type": "text/plain"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestUploadSpeaksOPAsAPI: a POST to <service>/logs with OPA's headers,
// the body a gzip'd JSON array of the events in order.
func TestUploadSpeaksOPAsAPI(t *testing.T) {
	s := newService(t, nil)
	u := newUploader(t, upload.Config{}, s)
	if err := u.Flush(t.Context()); err != nil || len(s.all()) != 0 {
		t.Fatalf("an empty buffer was uploaded: %v, %d requests", err, len(s.all()))
	}
	for i := range 3 {
		u.Log(event(i))
	}
	if err := u.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	reqs := s.all()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.method != http.MethodPost || r.path != "/v1/logs" {
		t.Errorf("%s %s, want POST /v1/logs", r.method, r.path)
	}
	// The configured headers go along, but cannot change the encoding.
	if r.header.Get("Content-Type") != "application/json" || r.header.Get("Content-Encoding") != "gzip" || r.header.Get("Authorization") != "Bearer t0ken" {
		t.Errorf("headers %v", r.header)
	}
	if got := strings.Join(ids(r.events), ","); got != wantIDs(0, 3) {
		t.Errorf("events %s", got)
	}
	if st := u.Stats(); st.Uploaded != 3 || st.Pending != 0 || st.Failures != 0 {
		t.Errorf("stats %+v", st)
	}

	// Resource moves the endpoint.
	u2, err := upload.New(upload.Config{Resource: "/custom/path"}, s.Client(), s.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	u2.Log(event(9))
	if err := u2.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := s.all()[1]; r.path != "/custom/path" {
		t.Errorf("resource path %s", r.path)
	}
}

// TestRetryAfterServerError: a 500 keeps the events, ahead of newer ones,
// for the next attempt, which Run makes after a backoff.
func TestRetryAfterServerError(t *testing.T) {
	t.Run("flush", func(t *testing.T) {
		s := newService(t, func(n int) int {
			if n == 0 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		})
		u := newUploader(t, upload.Config{}, s)
		for i := range 4 {
			u.Log(event(i))
		}
		err := u.Flush(t.Context())
		var se *upload.StatusError
		if !errors.As(err, &se) || se.Code != 500 {
			t.Fatalf("err = %v, want a 500", err)
		}
		if st := u.Stats(); st.Pending != 4 || st.Failures != 1 || st.Uploaded != 0 {
			t.Errorf("after the failure: %+v", st)
		}
		u.Log(event(4))
		if err := u.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		reqs := s.all()
		if len(reqs) != 2 || strings.Join(ids(reqs[1].events), ",") != wantIDs(0, 5) {
			t.Errorf("requests %v", reqs)
		}
	})
	t.Run("run", func(t *testing.T) {
		s := newService(t, func(n int) int {
			if n < 2 {
				return http.StatusInternalServerError
			}
			return http.StatusOK
		})
		u := newUploader(t, upload.Config{MinDelay: time.Hour, MaxDelay: time.Hour}, s)
		for i := range 3 {
			u.Log(event(i))
		}
		done := make(chan struct{})
		go func() { defer close(done); u.Run(t.Context()) }()
		// Run uploads at once; the two failures are retried after a backoff,
		// not after the hour's delay.
		for range 3 {
			if r := <-s.got; strings.Join(ids(r.events), ",") != wantIDs(0, 3) {
				t.Errorf("attempt carried %v", ids(r.events))
			}
		}
		if err := u.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		<-done
		if st := u.Stats(); st.Uploaded != 3 || st.Failures != 2 || st.Pending != 0 || len(s.all()) != 3 {
			t.Errorf("stats %+v after %d requests", st, len(s.all()))
		}
	})
}

// incompressible returns an event of about size bytes that gzip cannot
// shrink much.
func incompressible(r *rand.Rand, i, size int) []byte {
	pad := make([]byte, size/2)
	for j := range pad {
		pad[j] = byte(r.Uint32())
	}
	return fmt.Appendf(nil, `{"decision_id":"d-%d","pad":"%x"}`, i, pad)
}

// TestChunksWithinUploadLimit: the buffer goes out in as many bodies as
// the compressed limit needs, each within it, the events in order; an
// event that alone is past the limit is dropped and counted.
func TestChunksWithinUploadLimit(t *testing.T) {
	const limit = 2048
	s := newService(t, nil)
	u := newUploader(t, upload.Config{UploadSizeLimitBytes: limit}, s)
	r := rand.New(rand.NewPCG(1, 2))
	var want []string
	for i := range 200 {
		if i == 57 {
			u.Log(incompressible(r, i, 8*limit))
			continue
		}
		u.Log(incompressible(r, i, 100+r.IntN(300)))
		want = append(want, fmt.Sprintf("d-%d", i))
	}
	if err := u.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	var got []string
	reqs := s.all()
	for i, req := range reqs {
		if req.compressed > limit {
			t.Errorf("body %d is %d bytes compressed, past the %d limit", i, req.compressed, limit)
		}
		got = append(got, ids(req.events)...)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("events arrived as\n%v\nwant\n%v", got, want)
	}
	if len(reqs) < 10 {
		t.Errorf("%d bodies for ~50 KB of incompressible events under a 2 KB limit", len(reqs))
	}
	if st := u.Stats(); st.TooLarge != 1 || st.Uploaded != 199 {
		t.Errorf("stats %+v", st)
	}
	// Later bodies fill the limit: the compression ratio was learned.
	full := 0
	for _, req := range reqs {
		if req.compressed > limit*3/4 {
			full++
		}
	}
	if full < len(reqs)/2 {
		t.Errorf("only %d of %d bodies are over 3/4 of the limit", full, len(reqs))
	}
}

// TestBufferDropsOldest: past either bound the oldest events go, counted.
func TestBufferDropsOldest(t *testing.T) {
	s := newService(t, nil)
	u := newUploader(t, upload.Config{BufferSizeLimitEvents: 5}, s)
	for i := range 8 {
		u.Log(event(i))
	}
	if st := u.Stats(); st.Dropped != 3 || st.Pending != 5 {
		t.Errorf("stats %+v", st)
	}
	if err := u.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids(s.all()[0].events), ","); got != wantIDs(3, 8) {
		t.Errorf("uploaded %s", got)
	}

	size := int64(len(event(0)))
	u = newUploader(t, upload.Config{BufferSizeLimitBytes: 2 * size}, s)
	for i := range 4 {
		u.Log(event(i))
	}
	if st := u.Stats(); st.Dropped != 2 || st.Pending != 2 {
		t.Errorf("bytes bound: stats %+v", st)
	}
}

// TestFailedEventsStayWithinTheBuffer: requeued events count against the
// bound too, and being oldest they are the ones dropped.
func TestFailedEventsStayWithinTheBuffer(t *testing.T) {
	s := newService(t, func(n int) int {
		if n == 0 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	u := newUploader(t, upload.Config{BufferSizeLimitEvents: 4}, s)
	for i := range 3 {
		u.Log(event(i))
	}
	if err := u.Flush(t.Context()); err == nil {
		t.Fatal("a 503 was taken for success")
	}
	for i := 3; i < 6; i++ {
		u.Log(event(i))
	}
	if st := u.Stats(); st.Pending != 4 || st.Dropped != 2 {
		t.Errorf("stats %+v", st)
	}
	if err := u.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids(s.all()[1].events), ","); got != wantIDs(2, 6) {
		t.Errorf("uploaded %s", got)
	}
}

// TestLogDoesNotWaitForUploads: while an upload hangs, Log still returns,
// and what it queued waits for the next upload.
func TestLogDoesNotWaitForUploads(t *testing.T) {
	release, arrived := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		close(arrived)
		<-release
	}))
	defer srv.Close()
	u, err := upload.New(upload.Config{}, srv.Client(), srv.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	u.Log(event(0))
	flushed := make(chan error)
	go func() { flushed <- u.Flush(t.Context()) }()
	<-arrived
	// If Log waited for the upload, this would never finish.
	for i := 1; i <= 100; i++ {
		u.Log(event(i))
	}
	if st := u.Stats(); st.Pending != 100 {
		t.Errorf("pending %d while the upload hangs", st.Pending)
	}
	close(release)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if st := u.Stats(); st.Uploaded != 1 || st.Pending != 100 {
		t.Errorf("stats %+v", st)
	}
}

// TestCloseFlushes: Close stops Run and sends what is buffered at once,
// whatever the delay; later events are refused and counted.
func TestCloseFlushes(t *testing.T) {
	s := newService(t, nil)
	u := newUploader(t, upload.Config{MinDelay: time.Hour, MaxDelay: 2 * time.Hour}, s)
	done := make(chan struct{})
	go func() { defer close(done); u.Run(t.Context()) }()
	for i := range 10 {
		u.Log(event(i))
	}
	if err := u.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	<-done
	var got []string
	for _, r := range s.all() {
		got = append(got, ids(r.events)...)
	}
	if strings.Join(got, ",") != wantIDs(0, 10) {
		t.Errorf("uploaded %v", got)
	}
	u.Log(event(10))
	if _, err := u.Write([]byte("{}\n")); !errors.Is(err, upload.ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
	if st := u.Stats(); st.Dropped != 1 || st.Pending != 0 {
		t.Errorf("stats %+v", st)
	}
	if err := u.Close(t.Context()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestCloseGivesUpWhenContextEnds: against a failing service Close retries
// until its context ends, then says how many events are lost.
func TestCloseGivesUpWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	s := newService(t, func(n int) int {
		if n == 2 {
			cancel()
		}
		return http.StatusBadGateway
	})
	u := newUploader(t, upload.Config{}, s)
	u.Log(event(0))
	u.Log(event(1))
	err := u.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "2 events not sent") {
		t.Fatalf("err = %v", err)
	}
	if n := len(s.all()); n != 3 {
		t.Errorf("%d attempts", n)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, tt := range []struct {
		url string
		cfg upload.Config
	}{
		{"ftp://logs.example", upload.Config{}},
		{"https://", upload.Config{}},
		{"::", upload.Config{}},
		{"https://logs.example", upload.Config{MinDelay: time.Minute, MaxDelay: time.Second}},
		{"https://logs.example", upload.Config{BufferSizeLimitBytes: -1}},
	} {
		if _, err := upload.New(tt.cfg, nil, tt.url, nil, nil); err == nil {
			t.Errorf("%q %+v accepted", tt.url, tt.cfg)
		}
	}
}

// TestLoggerTeesToUploader: the Logger's OPA-format lines reach the
// service as they are in the file: OPA's event type reads them, and in
// order they verify as the file's chain does.
func TestLoggerTeesToUploader(t *testing.T) {
	s := newService(t, nil)
	u := newUploader(t, upload.Config{UploadSizeLimitBytes: 4096}, s)
	p := filepath.Join(t.TempDir(), "decisions.log")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	l := decisionlog.New(f, "", 100, nopMetrics{}, decisionlog.WithFormat(decisionlog.FormatOPA), decisionlog.WithTee(u.Log))
	for i := range 40 {
		l.Log(decisionlog.Entry{
			DecisionID: fmt.Sprintf("d-%d", i), Time: time.Unix(int64(i), 0), Result: "allow",
			Query: "data.envoy.authz.allow", RawResult: true, Labels: map[string]string{"id": "i-1", "version": "0.9.0"},
			Input: map[string]any{"n": i, "pad": strings.Repeat("p", i*20)},
		})
	}
	l.Close()
	f.Close()
	if err := u.Close(t.Context()); err != nil {
		t.Fatal(err)
	}

	var uploaded bytes.Buffer
	for _, r := range s.all() {
		for _, e := range r.events {
			var ev logs.EventV1
			if err := json.Unmarshal(e, &ev); err != nil || ev.Path != "envoy/authz/allow" || ev.Labels["id"] != "i-1" {
				t.Errorf("OPA reads %s as %+v, %v", e, ev, err)
			}
			uploaded.Write(e)
			uploaded.WriteByte('\n')
		}
	}
	file, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(uploaded.Bytes(), file) {
		t.Errorf("uploaded events differ from the file's lines")
	}
	if len(s.all()) < 2 {
		t.Errorf("%d uploads: expected the 4 KB limit to split them", len(s.all()))
	}
	up := filepath.Join(t.TempDir(), "uploaded.log")
	if err := os.WriteFile(up, uploaded.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := decisionlog.Verify([]string{up}, func(n string) (io.ReadCloser, error) { return os.Open(n) })
	if err != nil || v.Lines != 40 {
		t.Errorf("uploaded events do not verify: %+v %v", v, err)
	}
}

// TestUploaderAsSink: as the Logger's only sink, the Uploader takes each
// written line as an event.
func TestUploaderAsSink(t *testing.T) {
	s := newService(t, nil)
	u := newUploader(t, upload.Config{}, s)
	l := decisionlog.New(u, "", 100, nopMetrics{}, decisionlog.WithFormat(decisionlog.FormatOPA))
	for i := range 5 {
		l.Log(decisionlog.Entry{DecisionID: fmt.Sprintf("d-%d", i)})
	}
	l.Close()
	if err := u.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range s.all() {
		got = append(got, ids(r.events)...)
	}
	if strings.Join(got, ",") != wantIDs(0, 5) {
		t.Errorf("uploaded %v", got)
	}
}

type nopMetrics struct{}

func (nopMetrics) LogDropped()    {}
func (nopMetrics) LogWriteError() {}
