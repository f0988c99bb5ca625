package decisionlog

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// FuzzAppendEntry holds the hand-written encoder to encoding/json, byte for
// byte: any JSON input document (numbers as json.Number and as float64),
// any strings in the fixed fields.
func FuzzAppendEntry(f *testing.F) {
	f.Add(`{"attributes":{"request":{"http":{"headers":{"x":"<a&b>","y":"\u2028"}}}},"n":1.5e300,"m":[1,"2",null,true]}`, "deny", "reason \"quoted\"\n\t<script>", int64(7), true)
	f.Add(`{"parsed_body":{"max_tokens":12,"f":0.000001,"g":-0,"h":123456789012345678901234567890}}`, "", "\xff\xfe bad utf8 \u2029", int64(-1), false)
	f.Add(`[]`, "allow", "", int64(0), false)
	f.Fuzz(func(t *testing.T, input, result, reason string, n int64, flag bool) {
		for _, useNumber := range []bool{true, false} {
			var doc any
			dec := json.NewDecoder(strings.NewReader(input))
			if useNumber {
				dec.UseNumber()
			}
			if dec.Decode(&doc) != nil {
				doc = nil
			}
			e := Entry{
				Type: "decision", DecisionID: reason, Time: time.Unix(n%1e10, n%1e9).UTC(),
				Caller: reason, Model: result, Version: input, Result: result, DryRun: flag,
				HTTPStatus: int(n % 600), Reason: reason, PolicyRevision: result, Query: reason,
				EvalMicros: n, Cached: !flag, Dropped: n % 3, Input: doc, PrevHash: result,
			}
			want, wantErr := json.Marshal(e)
			got, err := appendEntry(nil, &e)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("error %v, encoding/json %v", err, wantErr)
			}
			if err == nil && !bytes.Equal(got, want) {
				t.Fatalf("encoded\n%s\nencoding/json\n%s", got, want)
			}
		}
	})
}

func BenchmarkSeal(b *testing.B) {
	var in map[string]any
	dec := json.NewDecoder(strings.NewReader(`{"attributes":{"destination":{"principal":"spiffe://nexus.local/model/triage"},"source":{"address":{"socketAddress":{"address":"127.0.0.1","portValue":50000}},"principal":"spiffe://nexus.local/ns/clinic/sa/frontdesk"},"request":{"http":{"body":"**masked**","headers":{":authority":"triage.models.nexus.local",":method":"POST",":path":"/v1/chat/completions","authorization":"**masked**","content-length":"86","content-type":"application/json","x-nexus-model":"triage","x-request-id":"0000002a-1c9e-4a51-9b0e-00000004a6bf"},"host":"triage.models.nexus.local","method":"POST","path":"/v1/chat/completions","protocol":"HTTP/2","size":"86"}},"contextExtensions":{"model":"triage","policy":"nexus.models.triage"},"metadataContext":{"filterMetadata":{"piiguard":{"findings":{"EMAIL":1}}}}},"nexus":{"caller":{"path":"/ns/clinic/sa/frontdesk","spiffe_id":"spiffe://nexus.local/ns/clinic/sa/frontdesk","trust_domain":"nexus.local"},"claims":null,"model":"triage","pii":{"classes":["EMAIL"],"counts":{"EMAIL":1},"oversize":false},"policy":"nexus.models.triage","purpose":"","version":""},"parsed_body":"**masked**","parsed_path":["v1","chat","completions"],"parsed_query":{},"truncated_body":false,"version":{"encoding":"protojson","ext_authz":"v3"}}`))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		b.Fatal(err)
	}
	e := Entry{Type: "decision", DecisionID: "0123456789abcdef0123456789abcdef", Time: time.Now().UTC(), Caller: "spiffe://nexus.local/ns/clinic/sa/frontdesk",
		Model: "triage", Result: "allow", PolicyRevision: "sha256:5a5b70bdee8a9c16", Query: "data.envoy.authz.allow", EvalMicros: 42, Input: in}
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("appendEntry", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := appendEntry(make([]byte, 0, 2048), &e); err != nil {
				b.Fatal(err)
			}
		}
	})
}
