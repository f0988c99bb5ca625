package piiguard_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

const config = `{"model":"triage","model_header":"x-nexus-model","modes":{"EMAIL":"tokenize","US_SSN":"redact","CREDIT_CARD":"block","MEDICAL_RECORD_NUMBER":"hash","IP_ADDRESS":"report"},"hash_key":"k1-secret","hash_key_id":"k1"}`

func header(hs [][2]string, name string) (string, bool) {
	for _, h := range hs {
		if strings.EqualFold(h[0], name) {
			return h[1], true
		}
	}
	return "", false
}

var chatHeaders = [][2]string{
	{":method", "POST"}, {":path", "/v1/chat/completions"}, {":authority", "triage.models.nexus.local"},
	{"content-type", "application/json"}, {"content-length", "120"},
	{"x-nexus-pii", "none"}, {"x-nexus-model", "forged-model"},
}

func TestTokenizeAndRestore(t *testing.T) {
	for _, runner := range runners {
		t.Run(runner, func(t *testing.T) {
			host, st := newHost(t, runner, config)
			if st != types.OnPluginStartStatusOK {
				t.Fatal("plugin did not start")
			}
			id := host.InitializeHttpContext()
			if a := host.CallOnRequestHeaders(id, chatHeaders, false); a != types.ActionPause {
				t.Fatalf("headers action = %v, want pause until the body is scanned", a)
			}
			body := `{"model":"triage","messages":[{"role":"user","content":"I am jane@example.com, SSN 123-45-6789, from 10.1.2.3"}]}`
			if a := host.CallOnRequestBody(id, []byte(body), true); a != types.ActionContinue {
				t.Fatalf("body action = %v", a)
			}
			if lr := host.GetSentLocalResponse(id); lr != nil {
				t.Fatalf("unexpected local response %d %s", lr.StatusCode, lr.Data)
			}
			got := host.GetCurrentRequestBody(id)
			var doc struct {
				Messages []struct{ Content string } `json:"messages"`
			}
			if err := json.Unmarshal(got, &doc); err != nil {
				t.Fatalf("rewritten body is not JSON: %v\n%s", err, got)
			}
			if want := "I am [EMAIL_1], SSN [REDACTED:US_SSN], from 10.1.2.3"; doc.Messages[0].Content != want {
				t.Errorf("model sees %q, want %q", doc.Messages[0].Content, want)
			}
			hs := host.GetCurrentRequestHeaders(id)
			if v, _ := header(hs, "x-nexus-pii"); v != "EMAIL=1,IP_ADDRESS=1,US_SSN=1" {
				t.Errorf("x-nexus-pii = %q", v)
			}
			if v, _ := header(hs, "x-nexus-pii-actions"); v != "redact=1,report=1,tokenize=1" {
				t.Errorf("x-nexus-pii-actions = %q", v)
			}
			if v, _ := header(hs, "x-nexus-model"); v != "triage" {
				t.Errorf("model header = %q; the caller's forged value must be replaced from the body", v)
			}
			if _, ok := header(hs, "content-length"); ok {
				t.Error("content-length kept after rewriting the body")
			}

			// The answer mentions the token, split across two chunks.
			host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}, {"content-type", "application/json"}, {"content-length", "60"}}, false)
			host.CallOnResponseBody(id, []byte(`{"choices":[{"message":{"content":"Dear [EMA`), false)
			first := string(host.GetCurrentResponseBody(id))
			host.CallOnResponseBody(id, []byte(`IL_1], noted. [EMAIL_7] stays."}}]}`), true)
			all := first + string(host.GetCurrentResponseBody(id))
			if !strings.Contains(all, "Dear jane@example.com, noted. [EMAIL_7] stays.") {
				t.Errorf("restored answer = %s", all)
			}
			host.CompleteHttpContext(id)
		})
	}
}

func TestBlock(t *testing.T) {
	for _, runner := range runners {
		t.Run(runner, func(t *testing.T) {
			host, _ := newHost(t, runner, config)
			id := host.InitializeHttpContext()
			host.CallOnRequestHeaders(id, chatHeaders, false)
			host.CallOnRequestBody(id, []byte(`{"model":"triage","messages":[{"role":"user","content":"charge 4111 1111 1111 1111"}]}`), true)
			lr := host.GetSentLocalResponse(id)
			if lr == nil || lr.StatusCode != 403 {
				t.Fatalf("local response = %+v", lr)
			}
			body := string(lr.Data)
			if !strings.Contains(body, `"classes":["CREDIT_CARD"]`) || strings.Contains(body, "4111") {
				t.Errorf("403 body must name the class and never echo the value: %s", body)
			}
			if v, _ := header(lr.Headers, "content-type"); v != "application/json" {
				t.Errorf("content-type = %q", v)
			}
		})
	}
}

func TestOversizeFailsClosed(t *testing.T) {
	for _, runner := range runners {
		t.Run(runner, func(t *testing.T) {
			host, _ := newHost(t, runner, `{"max_body_bytes": 64}`)
			id := host.InitializeHttpContext()
			host.CallOnRequestHeaders(id, chatHeaders, false)
			host.CallOnRequestBody(id, []byte(strings.Repeat("a", 100)), true)
			if lr := host.GetSentLocalResponse(id); lr == nil || lr.StatusCode != 413 {
				t.Fatalf("local response = %+v", lr)
			}
		})
	}
}

func TestBadConfigurationFailsStart(t *testing.T) {
	bad := map[string]string{
		`{"modes":{"EMAIL":"shred"}}`: "modes.EMAIL",
		`{"modes":{"NOPE":"redact"}}`: "modes.NOPE: unknown data class",
		`{"modes":{"EMAIL":"hash"}}`:  "hash mode needs hash_key",
		`{"unknown_field":1}`:         "unknown field",
		`{"oversize":"ignore"}`:       "oversize",
	}
	for _, runner := range runners {
		for cfg, want := range bad {
			// One emulator at a time: each subtest releases its own.
			t.Run(runner+"/"+want, func(t *testing.T) {
				host, st := newHost(t, runner, cfg)
				if st != types.OnPluginStartStatusFailed {
					t.Errorf("%s: plugin started", cfg)
				}
				logs := strings.Join(host.GetErrorLogs(), "\n")
				if !strings.Contains(logs, want) {
					t.Errorf("%s: error log %q does not name %q", cfg, logs, want)
				}
			})
		}
	}
}

func TestNoBody(t *testing.T) {
	for _, runner := range runners {
		t.Run(runner, func(t *testing.T) {
			host, _ := newHost(t, runner, config)
			id := host.InitializeHttpContext()
			if a := host.CallOnRequestHeaders(id, [][2]string{{":method", "GET"}, {":path", "/healthz"}, {"x-nexus-pii", "forged"}}, true); a != types.ActionContinue {
				t.Fatalf("action = %v", a)
			}
			if v, _ := header(host.GetCurrentRequestHeaders(id), "x-nexus-pii"); v != "none" {
				t.Errorf("x-nexus-pii = %q", v)
			}
		})
	}
}

// TestStreamedAnswer: an OpenAI stream whose token arrives split across
// events and across the chunks the proxy hands over.
func TestStreamedAnswer(t *testing.T) {
	for _, runner := range runners {
		t.Run(runner, func(t *testing.T) {
			host, _ := newHost(t, runner, config)
			id := host.InitializeHttpContext()
			host.CallOnRequestHeaders(id, chatHeaders, false)
			host.CallOnRequestBody(id, []byte(`{"model":"triage","stream":true,"messages":[{"role":"user","content":"I am jane@example.com"}]}`), true)
			host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}, {"content-type", "text/event-stream"}}, false)
			ev := func(c string) string {
				return `data: {"choices":[{"index":0,"delta":{"content":"` + c + `"}}]}` + "\n\n"
			}
			stream := ev("Hello ") + ev("[EMA") + ev("IL_1]!") + "data: [DONE]\n\n"
			var got strings.Builder
			for i := 0; i < len(stream); i += 23 {
				end := min(i+23, len(stream))
				host.CallOnResponseBody(id, []byte(stream[i:end]), end == len(stream))
				got.Write(host.GetCurrentResponseBody(id))
			}
			var content strings.Builder
			for _, line := range strings.Split(got.String(), "\n") {
				data, ok := strings.CutPrefix(line, "data: ")
				if !ok || data == "[DONE]" {
					continue
				}
				var e struct {
					Choices []struct {
						Delta struct{ Content string } `json:"delta"`
					} `json:"choices"`
				}
				if err := json.Unmarshal([]byte(data), &e); err != nil {
					t.Fatalf("event is not JSON: %s", data)
				}
				content.WriteString(e.Choices[0].Delta.Content)
			}
			if content.String() != "Hello jane@example.com!" {
				t.Errorf("streamed content = %q\n%s", content.String(), got.String())
			}
		})
	}
}

// TestModelHeaderNeverCarriesPersonalData: a "model" field holding personal
// data sets no routing header (the body's copy is tokenized like any other
// string), and the caller's forged header is gone either way.
func TestModelHeaderNeverCarriesPersonalData(t *testing.T) {
	for _, runner := range runners {
		t.Run(runner, func(t *testing.T) {
			host, _ := newHost(t, runner, config)
			id := host.InitializeHttpContext()
			host.CallOnRequestHeaders(id, chatHeaders, false)
			host.CallOnRequestBody(id, []byte(`{"model":"jane@example.com","messages":[{"role":"user","content":"hi"}]}`), true)
			hs := host.GetCurrentRequestHeaders(id)
			if v, ok := header(hs, "x-nexus-model"); ok {
				t.Errorf("model header = %q", v)
			}
			if strings.Contains(string(host.GetCurrentRequestBody(id)), "jane@example.com") {
				t.Error("the e-mail in the model field reached the model")
			}
			host.CompleteHttpContext(id)
		})
	}
}
