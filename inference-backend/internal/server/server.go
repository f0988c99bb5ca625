// Package server is nexus-backend's HTTP API: OpenAI-compatible chat
// completions (with server-sent-event streaming) and a KServe v2-style
// inference endpoint, answered by the built-in deterministic model.
package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/secureai-nexus/nexus/inference-backend/internal/model"
)

// HeaderVersion names the version that answered, on every response.
const HeaderVersion = "x-nexus-model-version"

// HeaderDigest carries the root digest of the model files that answered.
const HeaderDigest = "x-nexus-model-digest"

const maxBodyBytes = 1 << 20

// Server answers for one model version.
type Server struct {
	Model model.Model
	Log   *slog.Logger
	Now   func() time.Time
	// Instruments record spans and GenAI metrics (nil: none).
	Instruments *Instruments
	// Metrics serves /metrics on the health handler too (nil: not served).
	Metrics http.Handler
	// Faults, when set, make this backend fail or slow down on purpose:
	// the rollout tests' bad canary.
	Faults *Faults
	// Digest is the root digest of the model files this backend loaded
	// ("sha256:…"), reported on /v1/models and in x-nexus-model-digest.
	Digest     string
	none       *Instruments
	labelsOnce sync.Once
	labels     map[string]*labels

	requests atomic.Int64
	ready    atomic.Bool
}

// New returns a server that is ready.
func New(m model.Model, log *slog.Logger) *Server {
	s := &Server{Model: m, Log: log, Now: time.Now, none: noInstruments()}
	s.ready.Store(true)
	return s
}

// SetReady flips readiness, e.g. while draining.
func (s *Server) SetReady(ok bool) { s.ready.Store(ok) }

// HealthHandler serves only /healthz and /readyz: the probe port when the
// main port speaks mTLS.
func (s *Server) HealthHandler() http.Handler {
	mux := http.NewServeMux()
	s.health(mux)
	return mux
}

func (s *Server) health(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	mux.HandleFunc("GET /readyz", s.readyz)
	if s.Metrics != nil {
		mux.Handle("GET /metrics", s.Metrics)
	}
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	mux.HandleFunc("POST /api/v1/inference/{model}", s.infer)
	s.health(mux)
	mux.HandleFunc("GET /v1/models", s.models)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		openAIError(w, 404, "not_found", "", fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(HeaderVersion, s.Model.Version)
		if s.Digest != "" {
			w.Header().Set(HeaderDigest, s.Digest)
		}
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if !s.ready.Load() {
		writeJSON(w, 503, map[string]string{"status": "not ready"})
		return
	}
	writeJSON(w, 200, map[string]any{"status": "ready", "model": s.Model.Name, "version": s.Model.Version, "requests": s.requests.Load()})
}

func (s *Server) models(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, 200, map[string]any{"object": "list", "data": []map[string]any{{
		"id": s.Model.Name, "object": "model", "owned_by": "nexus", "version": s.Model.Version, "digest": s.Digest,
	}}})
}

// ChatRequest is the part of an OpenAI chat completion request the
// backend reads; other fields (temperature, top_p, user…) are accepted and
// ignored, as OpenAI-compatible servers do.
type ChatRequest struct {
	Model     string    `json:"model"`
	Messages  []Message `json:"messages"`
	Stream    bool      `json:"stream"`
	MaxTokens *int      `json:"max_tokens"`
	// MaxCompletionTokens is the newer name of max_tokens.
	MaxCompletionTokens *int `json:"max_completion_tokens"`
}

// Message is one chat message. Content is a string or an array of parts.
type Message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// ParseChatRequest decodes and checks a chat request, naming the field at
// fault.
func ParseChatRequest(body []byte) (*ChatRequest, *FieldError) {
	var req ChatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, &FieldError{Param: te.Field, Msg: fmt.Sprintf("%s: must be %s, got %s", te.Field, te.Type, te.Value)}
		}
		return nil, &FieldError{Msg: "body is not valid JSON: " + err.Error()}
	}
	if req.Model == "" {
		return nil, &FieldError{Param: "model", Msg: "model: is required"}
	}
	if len(req.Messages) == 0 {
		return nil, &FieldError{Param: "messages", Msg: "messages: at least one message is required"}
	}
	for i, m := range req.Messages {
		switch m.Role {
		case "system", "developer", "user", "assistant", "tool":
		default:
			return nil, &FieldError{Param: fmt.Sprintf("messages[%d].role", i), Msg: fmt.Sprintf("messages[%d].role: must be system, developer, user, assistant or tool, got %q", i, m.Role)}
		}
		if _, err := m.Text(); err != nil {
			return nil, &FieldError{Param: fmt.Sprintf("messages[%d].content", i), Msg: fmt.Sprintf("messages[%d].content: %v", i, err)}
		}
	}
	for _, p := range []struct {
		name string
		v    *int
	}{{"max_tokens", req.MaxTokens}, {"max_completion_tokens", req.MaxCompletionTokens}} {
		if p.v != nil && *p.v < 1 {
			return nil, &FieldError{Param: p.name, Msg: fmt.Sprintf("%s: must be at least 1, got %d", p.name, *p.v)}
		}
	}
	return &req, nil
}

// Text returns the message's text: the string, or its text parts joined.
func (m Message) Text() (string, error) {
	c := bytes.TrimSpace(m.Content)
	if len(c) == 0 || bytes.Equal(c, []byte("null")) {
		return "", nil
	}
	if c[0] == '"' {
		var s string
		if err := json.Unmarshal(c, &s); err != nil {
			return "", err
		}
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(c, &parts); err != nil {
		return "", errors.New("must be a string or an array of content parts")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(p.Text)
		}
	}
	return b.String(), nil
}

// FieldError is a client error naming the request field at fault.
type FieldError struct {
	Param string
	Msg   string
}

func (s *Server) chat(rw http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	ctx, c := s.begin(r, "chat")
	w := &statusWriter{ResponseWriter: rw}
	defer func() { c.end(ctx, s.Now(), w.status) }()
	body, err := readBody(r)
	if err != nil {
		c.fail("invalid_request_error")
		openAIError(w, 400, "invalid_request_error", "", err.Error())
		return
	}
	req, fe := ParseChatRequest(body)
	if fe != nil {
		c.fail("invalid_request_error")
		openAIError(w, 400, "invalid_request_error", fe.Param, fe.Msg)
		return
	}
	if req.Model != s.Model.Name {
		c.fail("model_not_found")
		openAIError(w, 404, "model_not_found", "model", fmt.Sprintf("model %q is not served here (this is %s %s)", req.Model, s.Model.Name, s.Model.Version))
		return
	}
	var prompt strings.Builder
	for _, m := range req.Messages {
		t, _ := m.Text()
		prompt.WriteString(t)
		prompt.WriteByte('\n')
	}
	limit := 0
	if req.MaxTokens != nil {
		limit = *req.MaxTokens
	}
	if req.MaxCompletionTokens != nil {
		limit = *req.MaxCompletionTokens
	}
	if s.Faults.apply(s.Now()) {
		c.fail("server_error")
		openAIError(w, 500, "server_error", "", "injected fault (--fault-error-rate)")
		return
	}
	words := s.Model.Generate(prompt.String(), limit)
	c.input, c.output = model.CountTokens(prompt.String()), len(words)
	c.capture("gen_ai.input.messages", prompt.String())
	c.capture("gen_ai.output.messages", strings.Join(words, " "))
	finish := "stop"
	if limit > 0 && len(words) == limit {
		finish = "length"
	}
	id := fmt.Sprintf("chatcmpl-%s-%d", s.Model.Version, s.requests.Load())
	created := s.Now().Unix()
	fingerprint := "nexus-backend/" + s.Model.Name + "/" + s.Model.Version
	if req.Stream {
		s.stream(w, r, c, id, created, fingerprint, words, finish)
		return
	}
	promptTokens := c.input
	writeJSON(w, 200, map[string]any{
		"id": id, "object": "chat.completion", "created": created, "model": s.Model.Name,
		"system_fingerprint": fingerprint,
		"choices": []map[string]any{{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": strings.Join(words, " ")},
			"finish_reason": finish,
		}},
		"usage": map[string]int{"prompt_tokens": promptTokens, "completion_tokens": len(words), "total_tokens": promptTokens + len(words)},
	})
}

// stream sends the answer as OpenAI chat.completion.chunk events, one word
// per chunk, then [DONE].
func (s *Server) stream(w *statusWriter, r *http.Request, c *call, id string, created int64, fingerprint string, words []string, finish string) {
	fl, ok := w.ResponseWriter.(http.Flusher)
	if !ok {
		c.fail("server_error")
		openAIError(w, 500, "server_error", "", "streaming is not supported by this connection")
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Connection", "keep-alive")
	w.WriteHeader(200)
	chunk := func(delta map[string]any, finish any) error {
		b, _ := json.Marshal(map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": s.Model.Name,
			"system_fingerprint": fingerprint,
			"choices":            []map[string]any{{"index": 0, "delta": delta, "finish_reason": finish}},
		})
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return err
		}
		fl.Flush()
		return r.Context().Err()
	}
	if chunk(map[string]any{"role": "assistant", "content": ""}, nil) != nil {
		return
	}
	for i, word := range words {
		if i > 0 {
			word = " " + word
		}
		if chunk(map[string]any{"content": word}, nil) != nil {
			c.fail("client_closed")
			return
		}
		c.firstToken(s.Now())
	}
	if chunk(map[string]any{}, finish) != nil {
		return
	}
	_, _ = io.WriteString(w, "data: [DONE]\n\n")
	fl.Flush()
}

// Faults are injected failures: from After on (counted from Start), every
// answer waits Latency more, and ErrorRate of them fail with a 500 —
// deterministically, every 1/ErrorRate-th request, so tests can count.
type Faults struct {
	ErrorRate float64
	Latency   time.Duration
	After     time.Duration
	Start     time.Time

	n atomic.Int64
}

// apply waits the injected latency and says whether this request fails.
func (f *Faults) apply(now time.Time) bool {
	if f == nil || now.Sub(f.Start) < f.After {
		return false
	}
	if f.Latency > 0 {
		time.Sleep(f.Latency)
	}
	n := f.n.Add(1)
	return int64(float64(n)*f.ErrorRate) > int64(float64(n-1)*f.ErrorRate)
}

// InferRequest is a KServe v2 inference request.
type InferRequest struct {
	ID     string        `json:"id"`
	Inputs []InferTensor `json:"inputs"`
}

// InferTensor is a KServe v2 tensor; the built-in model reads BYTES
// tensors as text.
type InferTensor struct {
	Name     string            `json:"name"`
	Datatype string            `json:"datatype"`
	Shape    []int64           `json:"shape"`
	Data     []json.RawMessage `json:"data"`
}

// ParseInferRequest decodes and checks a KServe v2 request.
func ParseInferRequest(body []byte) (*InferRequest, *FieldError) {
	var req InferRequest
	if err := json.Unmarshal(body, &req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, &FieldError{Param: te.Field, Msg: fmt.Sprintf("%s: must be %s, got %s", te.Field, te.Type, te.Value)}
		}
		return nil, &FieldError{Msg: "body is not valid JSON: " + err.Error()}
	}
	if len(req.Inputs) == 0 {
		return nil, &FieldError{Param: "inputs", Msg: "inputs: at least one input tensor is required"}
	}
	for i, in := range req.Inputs {
		p := fmt.Sprintf("inputs[%d]", i)
		if in.Name == "" {
			return nil, &FieldError{Param: p + ".name", Msg: p + ".name: is required"}
		}
		if in.Datatype != "BYTES" {
			return nil, &FieldError{Param: p + ".datatype", Msg: fmt.Sprintf("%s.datatype: the built-in model reads BYTES tensors, got %q", p, in.Datatype)}
		}
		var n int64 = 1
		for _, d := range in.Shape {
			if d < 0 {
				return nil, &FieldError{Param: p + ".shape", Msg: p + ".shape: dimensions must not be negative"}
			}
			n *= d
			if n > int64(len(in.Data)) {
				break
			}
		}
		if len(in.Shape) == 0 || n != int64(len(in.Data)) {
			return nil, &FieldError{Param: p + ".shape", Msg: fmt.Sprintf("%s.shape %v does not match %d data elements", p, in.Shape, len(in.Data))}
		}
		for j, d := range in.Data {
			var s string
			if err := json.Unmarshal(d, &s); err != nil {
				return nil, &FieldError{Param: fmt.Sprintf("%s.data[%d]", p, j), Msg: fmt.Sprintf("%s.data[%d]: must be a string", p, j)}
			}
		}
	}
	return &req, nil
}

func (s *Server) infer(rw http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	ctx, c := s.begin(r, "text_completion")
	w := &statusWriter{ResponseWriter: rw}
	defer func() { c.end(ctx, s.Now(), w.status) }()
	if name := r.PathValue("model"); name != s.Model.Name {
		c.fail("model_not_found")
		kserveError(w, 404, fmt.Sprintf("model %q is not served here (this is %s %s)", name, s.Model.Name, s.Model.Version))
		return
	}
	body, err := readBody(r)
	if err != nil {
		c.fail("invalid_request_error")
		kserveError(w, 400, err.Error())
		return
	}
	req, fe := ParseInferRequest(body)
	if fe != nil {
		c.fail("invalid_request_error")
		kserveError(w, 400, fe.Msg)
		return
	}
	if s.Faults.apply(s.Now()) {
		c.fail("server_error")
		kserveError(w, 500, "injected fault (--fault-error-rate)")
		return
	}
	outputs := make([]map[string]any, 0, len(req.Inputs))
	for _, in := range req.Inputs {
		answers := make([]string, 0, len(in.Data))
		for _, d := range in.Data {
			var text string
			_ = json.Unmarshal(d, &text)
			words := s.Model.Generate(text, 0)
			c.input += model.CountTokens(text)
			c.output += len(words)
			answers = append(answers, strings.Join(words, " "))
		}
		outputs = append(outputs, map[string]any{"name": in.Name, "datatype": "BYTES", "shape": in.Shape, "data": answers})
	}
	writeJSON(w, 200, map[string]any{"model_name": s.Model.Name, "model_version": s.Model.Version, "id": req.ID, "outputs": outputs})
}

func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxBodyBytes {
		return nil, fmt.Errorf("body is larger than %d bytes", maxBodyBytes)
	}
	return body, nil
}

func openAIError(w http.ResponseWriter, status int, typ, param, msg string) {
	e := map[string]any{"message": msg, "type": typ, "code": typ}
	if param != "" {
		e["param"] = param
	}
	writeJSON(w, status, map[string]any{"error": e})
}

func kserveError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
