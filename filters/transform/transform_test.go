package transform_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/secureai-nexus/nexus/filters/scan"
	"github.com/secureai-nexus/nexus/filters/transform"
)

func policy() *transform.Policy {
	return &transform.Policy{
		Modes: map[scan.Class]transform.Mode{
			scan.Email: transform.Tokenize, scan.Phone: transform.Tokenize,
			scan.USSSN: transform.Redact, scan.MedicalRecordNumber: transform.Hash,
			scan.CreditCard: transform.Block, scan.IPAddress: transform.Report,
		},
		HashKey: []byte("k1-secret"), HashKeyID: "k1",
	}
}

func TestTokenizeOpenAIRequest(t *testing.T) {
	body := []byte(`{"model":"triage","messages":[{"role":"user","content":"I am jane@example.com, SSN 123-45-6789; write to jane@example.com or bob@example.org. \"Quoted\" \u00e9 ok"}],"user":"jane@example.com"}`)
	r, err := transform.Apply(policy(), body, true)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Messages []struct{ Content string } `json:"messages"`
		User     string                     `json:"user"`
	}
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, r.Body)
	}
	want := `I am [EMAIL_1], SSN [REDACTED:US_SSN]; write to [EMAIL_1] or [EMAIL_2]. "Quoted" é ok`
	if doc.Messages[0].Content != want {
		t.Errorf("content = %q\nwant      %q", doc.Messages[0].Content, want)
	}
	if doc.User != "[EMAIL_1]" {
		t.Errorf("the same value in another field must get the same token: %q", doc.User)
	}
	if r.Counts[scan.Email] != 4 || r.Counts[scan.USSSN] != 1 || len(r.Blocked) != 0 {
		t.Errorf("counts = %v blocked = %v", r.Counts, r.Blocked)
	}
	// Findings point into the original body.
	for _, f := range r.Findings {
		if f.Class == scan.Email && string(body[f.Start:f.End]) != "jane@example.com" && string(body[f.Start:f.End]) != "bob@example.org" {
			t.Errorf("finding %+v covers %q", f, body[f.Start:f.End])
		}
	}
	if v, ok := r.Vault.Value("[EMAIL_2]"); !ok || v != "bob@example.org" {
		t.Errorf("vault: %q %v", v, ok)
	}
}

func TestKeysAreNotScanned(t *testing.T) {
	body := []byte(`{"jane@example.com": "value"}`)
	r, err := transform.Apply(policy(), body, true)
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Body) != string(body) || len(r.Findings) != 0 {
		t.Errorf("a key was rewritten: %s", r.Body)
	}
}

func TestEscapedStringsKeepOffsets(t *testing.T) {
	body := []byte(`{"content":"line\none jane@example.com"}`)
	r, err := transform.Apply(policy(), body, true)
	if err != nil {
		t.Fatal(err)
	}
	f := r.Findings[0]
	if string(body[f.Start:f.End]) != "jane@example.com" {
		t.Errorf("finding covers %q", body[f.Start:f.End])
	}
	if !json.Valid(r.Body) || !strings.Contains(string(r.Body), `line\none [EMAIL_1]`) {
		t.Errorf("body = %s", r.Body)
	}
}

func TestBlockAndHash(t *testing.T) {
	r, err := transform.Apply(policy(), []byte("pay with 4111 1111 1111 1111, MRN: A1234567"), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Blocked) != 1 || r.Blocked[0] != scan.CreditCard {
		t.Errorf("blocked = %v", r.Blocked)
	}
	if !strings.Contains(string(r.Body), "MRN: [MEDICAL_RECORD_NUMBER:k1:") {
		t.Errorf("body = %s", r.Body)
	}
	again, _ := transform.Apply(policy(), []byte("MRN: A1234567"), false)
	if !strings.Contains(string(r.Body), strings.TrimPrefix(string(again.Body), "MRN: ")) {
		t.Error("the hash pseudonym is not stable across requests")
	}
	p := policy()
	p.HashKey, p.HashKeyID = []byte("k2-secret"), "k2"
	rotated, _ := transform.Apply(p, []byte("MRN: A1234567"), false)
	if rotated.Body == nil || string(rotated.Body) == string(again.Body) {
		t.Error("a new key epoch must give new pseudonyms")
	}
}

func TestInvalidJSONIsScannedAsText(t *testing.T) {
	r, err := transform.Apply(policy(), []byte(`{"content": "jane@example.com"`), true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(r.Body), "[EMAIL_1]") {
		t.Errorf("body = %s", r.Body)
	}
}

func TestRestoreAcrossChunks(t *testing.T) {
	r, _ := transform.Apply(policy(), []byte("mail jane@example.com and call +1 415 555 0132"), false)
	answer := "Dear [EMAIL_1], we will call [PHONE_1]. Ignore [EMAIL_9] and [link]."
	for split := 0; split <= len(answer); split++ {
		rs := transform.NewRestorer(r.Vault, false)
		got := string(rs.Write([]byte(answer[:split]))) + string(rs.Write([]byte(answer[split:]))) + string(rs.Flush())
		want := "Dear jane@example.com, we will call +1 415 555 0132. Ignore [EMAIL_9] and [link]."
		if got != want {
			t.Fatalf("split at %d: %q", split, got)
		}
	}
	rs := transform.NewRestorer(transform.NewVault(), true)
	if got := string(rs.Write([]byte("[EMAIL_1]"))); got != "[EMAIL_1]" {
		t.Errorf("a token the caller did not send was expanded: %q", got)
	}
}

func TestRestoreEscapesForJSON(t *testing.T) {
	v := transform.NewVault()
	tok := v.Token(scan.Email, `we"ird\name@example.com`)
	rs := transform.NewRestorer(v, true)
	out := `{"content":"hi ` + string(rs.Write([]byte(tok))) + string(rs.Flush()) + `"}`
	var doc map[string]string
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc["content"] != `hi we"ird\name@example.com` {
		t.Errorf("restored JSON %s: %v %v", out, doc, err)
	}
}

// FuzzJSONRewrite: for JSON input the output is JSON, spans stay in
// bounds, and restoring the tokens gives back the original values.
func FuzzJSONRewrite(f *testing.F) {
	f.Add([]byte(`{"messages":[{"content":"jane@example.com 123-45-6789"}]}`))
	f.Add([]byte(`["a\u00e9\"b", 1.5e3, true, null, {"k": "4111111111111111"}]`))
	f.Add([]byte(`"\ud83d\ude00 bob@example.org"`))
	p := &transform.Policy{Modes: map[scan.Class]transform.Mode{}}
	for _, c := range scan.Classes() {
		p.Modes[c] = transform.Tokenize
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := transform.Apply(p, body, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, fd := range r.Findings {
			if fd.Start < 0 || fd.End > len(body) || fd.Start >= fd.End {
				t.Fatalf("span %+v out of bounds for %d bytes", fd, len(body))
			}
		}
		if json.Valid(body) && !json.Valid(r.Body) {
			t.Fatalf("valid JSON became invalid:\n%s\n%s", body, r.Body)
		}
		// Tokenize then restore is the identity on the decoded document.
		var in, out any
		if json.Unmarshal(body, &in) == nil && json.Unmarshal(r.Body, &out) == nil {
			restored := transform.NewRestorer(r.Vault, true)
			back := append(restored.Write(r.Body), restored.Flush()...)
			var got any
			if err := json.Unmarshal(back, &got); err != nil {
				t.Fatalf("restored body is not JSON: %v\n%s", err, back)
			}
			a, _ := json.Marshal(in)
			b, _ := json.Marshal(got)
			if string(a) != string(b) {
				t.Fatalf("restore did not give back the input:\n%s\n%s", a, b)
			}
		}
	})
}

func TestApplyReportsTopLevelModel(t *testing.T) {
	p := &transform.Policy{}
	tests := []struct{ body, want string }{
		{`{"model":"triage","messages":[{"role":"user","content":"hi"}]}`, "triage"},
		{`{"messages":[{"model":"inner"}],"model":"tri\u0061ge"}`, "triage"},
		{`{"messages":[{"model":"inner"}]}`, ""},
		{`{"model":42}`, ""},
		{`["model","triage"]`, ""},
		{`not json "model":"x"`, ""},
	}
	for _, tt := range tests {
		r, err := transform.Apply(p, []byte(tt.body), true)
		if err != nil {
			t.Fatal(err)
		}
		if r.Model != tt.want {
			t.Errorf("%s: model %q, want %q", tt.body, r.Model, tt.want)
		}
	}
}

// TestVaultManyTokens crosses the vault's switch from a searched slice to
// maps: numbering per class, the same token for a repeated value, and
// lookups by token stay right on both sides of it.
func TestVaultManyTokens(t *testing.T) {
	v := transform.NewVault()
	issued := map[string]string{} // value key → token
	next := map[scan.Class]int{}
	for round := 0; round < 2; round++ {
		for i := 0; i < 40; i++ {
			c := scan.Email
			if i%3 == 0 {
				c = scan.Phone
			}
			value := fmt.Sprintf("value-%d", i)
			key := string(c) + "/" + value
			want, seen := issued[key]
			if !seen {
				next[c]++
				want = fmt.Sprintf("[%s_%d]", c, next[c])
				issued[key] = want
			}
			if got := v.Token(c, value); got != want {
				t.Fatalf("round %d value %d: token %s, want %s", round, i, got, want)
			}
			if got, ok := v.Value(want); !ok || got != value {
				t.Fatalf("Value(%s) = %q %v, want %q", want, got, ok, value)
			}
		}
	}
	if v.Len() != 40 {
		t.Errorf("Len = %d, want 40", v.Len())
	}
	if _, ok := v.Value("[EMAIL_99]"); ok {
		t.Error("a token never issued was found")
	}
}
