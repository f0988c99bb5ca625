package server_test

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/secureai-nexus/nexus/inference-backend/internal/model"
	"github.com/secureai-nexus/nexus/inference-backend/internal/server"
)

func newServer(t *testing.T) (*server.Server, string) {
	t.Helper()
	s := server.New(model.Model{Name: "triage", Version: "v2"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts.URL
}

func post(t *testing.T, url, body string) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	return resp, out
}

func TestChatCompletion(t *testing.T) {
	_, url := newServer(t)
	resp, out := post(t, url+"/v1/chat/completions", `{"model":"triage","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"chest pain"}]}],"temperature":0.2}`)
	if resp.StatusCode != 200 || resp.Header.Get("x-nexus-model-version") != "v2" {
		t.Fatalf("%d %v", resp.StatusCode, out)
	}
	msg := out["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)
	if msg["role"] != "assistant" || !strings.HasPrefix(msg["content"].(string), "[triage v2] ") {
		t.Errorf("message = %v", msg)
	}
	if out["object"] != "chat.completion" || out["usage"].(map[string]any)["prompt_tokens"].(float64) != 4 {
		t.Errorf("completion = %v", out)
	}
}

func TestChatCompletionStream(t *testing.T) {
	_, url := newServer(t)
	resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"triage","stream":true,"max_tokens":5,"messages":[{"role":"user","content":"hello"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content-type = %q", ct)
	}
	var text strings.Builder
	var events int
	var finish any
	done := false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("not an SSE data line: %q", line)
		}
		if data == "[DONE]" {
			done = true
			break
		}
		events++
		var c map[string]any
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatal(err)
		}
		if c["object"] != "chat.completion.chunk" {
			t.Errorf("chunk object = %v", c["object"])
		}
		ch := c["choices"].([]any)[0].(map[string]any)
		if s, ok := ch["delta"].(map[string]any)["content"].(string); ok {
			text.WriteString(s)
		}
		if ch["finish_reason"] != nil {
			finish = ch["finish_reason"]
		}
	}
	if !done || events != 7 || finish != "length" {
		t.Errorf("done=%v events=%d finish=%v", done, events, finish)
	}
	if got := text.String(); !strings.HasPrefix(got, "[triage v2] ") || len(strings.Fields(got)) != 5 {
		t.Errorf("streamed text = %q", got)
	}
}

func TestKServeInference(t *testing.T) {
	_, url := newServer(t)
	resp, out := post(t, url+"/api/v1/inference/triage", `{"id":"r1","inputs":[{"name":"text","datatype":"BYTES","shape":[2],"data":["a","b"]}]}`)
	if resp.StatusCode != 200 || out["model_version"] != "v2" || out["id"] != "r1" {
		t.Fatalf("%d %v", resp.StatusCode, out)
	}
	data := out["outputs"].([]any)[0].(map[string]any)["data"].([]any)
	if len(data) != 2 || !strings.HasPrefix(data[0].(string), "[triage v2]") {
		t.Errorf("outputs = %v", out["outputs"])
	}
}

func TestBadRequests(t *testing.T) {
	_, url := newServer(t)
	tests := []struct {
		name, path, body string
		status           int
		want             string
	}{
		{"not JSON", "/v1/chat/completions", `{"model":`, 400, "not valid JSON"},
		{"no model", "/v1/chat/completions", `{"messages":[{"role":"user","content":"x"}]}`, 400, "model: is required"},
		{"no messages", "/v1/chat/completions", `{"model":"triage","messages":[]}`, 400, "messages: at least one"},
		{"bad role", "/v1/chat/completions", `{"model":"triage","messages":[{"role":"robot","content":"x"}]}`, 400, "messages[0].role"},
		{"bad content", "/v1/chat/completions", `{"model":"triage","messages":[{"role":"user","content":42}]}`, 400, "messages[0].content"},
		{"bad max_tokens", "/v1/chat/completions", `{"model":"triage","max_tokens":0,"messages":[{"role":"user","content":"x"}]}`, 400, "max_tokens: must be at least 1"},
		{"wrong type", "/v1/chat/completions", `{"model":7,"messages":[]}`, 400, "model: must be string"},
		{"other model", "/v1/chat/completions", `{"model":"gpt-9","messages":[{"role":"user","content":"x"}]}`, 404, "is not served here (this is triage v2)"},
		{"kserve other model", "/api/v1/inference/nope", `{}`, 404, "not served here"},
		{"kserve no inputs", "/api/v1/inference/triage", `{"inputs":[]}`, 400, "inputs: at least one"},
		{"kserve shape mismatch", "/api/v1/inference/triage", `{"inputs":[{"name":"t","datatype":"BYTES","shape":[3],"data":["a"]}]}`, 400, "inputs[0].shape [3] does not match 1 data elements"},
		{"kserve datatype", "/api/v1/inference/triage", `{"inputs":[{"name":"t","datatype":"FP32","shape":[1],"data":[1.5]}]}`, 400, "inputs[0].datatype"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, out := post(t, url+tt.path, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %v", resp.StatusCode, tt.status, out)
			}
			b, _ := json.Marshal(out)
			if !strings.Contains(string(b), tt.want) {
				t.Errorf("body %s does not mention %q", b, tt.want)
			}
		})
	}
}

func TestHealth(t *testing.T) {
	s, url := newServer(t)
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s = %d", path, resp.StatusCode)
		}
	}
	s.SetReady(false)
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("readyz while not ready = %d", resp.StatusCode)
	}
}

func FuzzParseChatRequest(f *testing.F) {
	f.Add([]byte(`{"model":"triage","messages":[{"role":"user","content":"hi"}]}`))
	f.Add([]byte(`{"model":"triage","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_tokens":3}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, fe := server.ParseChatRequest(body)
		if (req == nil) == (fe == nil) {
			t.Fatal("exactly one of request and error must be set")
		}
		if req != nil {
			for _, m := range req.Messages {
				if _, err := m.Text(); err != nil {
					t.Fatal("accepted unreadable content")
				}
			}
		}
	})
}

func FuzzParseInferRequest(f *testing.F) {
	f.Add([]byte(`{"inputs":[{"name":"t","datatype":"BYTES","shape":[1],"data":["a"]}]}`))
	f.Add([]byte(`{"inputs":[{"name":"t","datatype":"BYTES","shape":[9223372036854775807,2],"data":["a"]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, fe := server.ParseInferRequest(body)
		if (req == nil) == (fe == nil) {
			t.Fatal("exactly one of request and error must be set")
		}
	})
}

// TestHealthHandlerServesOnlyProbes: the plain-HTTP probe port answers
// health and readiness and nothing a caller could use to reach the model.
func TestHealthHandlerServesOnlyProbes(t *testing.T) {
	s := server.New(model.Model{Name: "triage", Version: "v1"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ts := httptest.NewServer(s.HealthHandler())
	defer ts.Close()
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s = %d", path, resp.StatusCode)
		}
	}
	resp, err := http.Post(ts.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"triage","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("chat on the probe port = %d, want 404", resp.StatusCode)
	}
	s.SetReady(false)
	resp, _ = http.Get(ts.URL + "/readyz")
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("readyz while draining = %d, want 503", resp.StatusCode)
	}
}

func TestFaultInjection(t *testing.T) {
	s, url := newServer(t)
	start := time.Now()
	s.Faults = &server.Faults{ErrorRate: 0.25, After: time.Hour, Start: start}
	body := `{"model":"triage","messages":[{"role":"user","content":"hi"}]}`
	if resp, _ := post(t, url+"/v1/chat/completions", body); resp.StatusCode != 200 {
		t.Fatalf("before --fault-after: %d", resp.StatusCode)
	}
	s.Faults = &server.Faults{ErrorRate: 0.25, Latency: 20 * time.Millisecond, Start: start}
	failed := 0
	t0 := time.Now()
	for range 8 {
		if resp, out := post(t, url+"/v1/chat/completions", body); resp.StatusCode == 500 {
			failed++
			if out["error"].(map[string]any)["type"] != "server_error" {
				t.Errorf("fault body %v", out)
			}
		}
	}
	if failed != 2 {
		t.Errorf("%d of 8 failed at an error rate of 0.25, want 2", failed)
	}
	if time.Since(t0) < 8*20*time.Millisecond {
		t.Error("injected latency not applied")
	}
}
