package piiguard_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// chatBody is an OpenAI request of about size bytes with a few findings.
func chatBody(size int) []byte {
	var sb strings.Builder
	sentence := "The patient reports mild chest pain since Tuesday and asks about the dose. "
	for sb.Len() < size-200 {
		sb.WriteString(sentence)
	}
	return []byte(fmt.Sprintf(`{"model":"triage","messages":[{"role":"user","content":"%s Contact jane@example.com, SSN 123-45-6789, phone (415) 555-0132."}]}`, sb.String()))
}

// BenchmarkRequestBody measures one request's body callback — read, scan,
// rewrite, headers — through the emulator, natively and inside the
// compiled .wasm under wazero, for 1, 16 and 256 KiB bodies. It reports
// p50/p99 per request; compare go and wasm of the same size in one run.
func BenchmarkRequestBody(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10, 256 << 10} {
		body := chatBody(size)
		for _, runner := range runners {
			b.Run(fmt.Sprintf("%s/%dKiB", runner, size>>10), func(b *testing.B) {
				host, _ := newHost(b, runner, config)
				var lat []float64
				b.SetBytes(int64(len(body)))
				for b.Loop() {
					id := host.InitializeHttpContext()
					host.CallOnRequestHeaders(id, chatHeaders, false)
					t0 := time.Now()
					host.CallOnRequestBody(id, body, true)
					lat = append(lat, float64(time.Since(t0).Nanoseconds())/1000)
					host.CompleteHttpContext(id)
				}
				slices.Sort(lat)
				b.ReportMetric(lat[len(lat)/2], "µs-p50")
				b.ReportMetric(lat[len(lat)*99/100], "µs-p99")
			})
		}
	}
}

// answerBody is a chat completion answer of about size bytes that quotes
// the caller's token and names nobody else.
func answerBody(size int) []byte {
	var sb strings.Builder
	sentence := "Chest pain since Tuesday with a normal ECG suggests a musculoskeletal cause; review the dose in a week. "
	for sb.Len() < size-200 {
		sb.WriteString(sentence)
	}
	return []byte(fmt.Sprintf(`{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"%s I will write to [EMAIL_1]."}}]}`, sb.String()))
}

// BenchmarkAnswer measures one answer's body callback — the caller's
// tokens restored — with the answer scan for personal data the caller did
// not send (answers: scan, the default) and without it (answers: off),
// natively and inside the compiled .wasm: the scan's cost on the response
// path against the same filter in the same run.
func BenchmarkAnswer(b *testing.B) {
	request := chatBody(1 << 10)
	for _, size := range []int{1 << 10, 16 << 10} {
		answer := answerBody(size)
		for _, runner := range runners {
			for _, mode := range []string{"off", "scan"} {
				b.Run(fmt.Sprintf("%s/%dKiB/%s", runner, size>>10, mode), func(b *testing.B) {
					host, _ := newHost(b, runner, `{"model":"triage","modes":{"EMAIL":"tokenize","US_SSN":"redact"},"answers":"`+mode+`"}`)
					var lat []float64
					b.SetBytes(int64(len(answer)))
					for b.Loop() {
						id := host.InitializeHttpContext()
						host.CallOnRequestHeaders(id, chatHeaders, false)
						host.CallOnRequestBody(id, request, true)
						host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}, {"content-type", "application/json"}, {"x-nexus-model-version", "v2"}}, false)
						t0 := time.Now()
						host.CallOnResponseBody(id, answer, true)
						lat = append(lat, float64(time.Since(t0).Nanoseconds())/1000)
						host.CompleteHttpContext(id)
					}
					slices.Sort(lat)
					b.ReportMetric(lat[len(lat)/2], "µs-p50")
					b.ReportMetric(lat[len(lat)*99/100], "µs-p99")
				})
			}
		}
	}
}
