package scan

import (
	"strings"
	"testing"
)

// synth repeats s to n bytes: shaped like a token, clearly made up.
func synth(s string, n int) string { return strings.Repeat(s, n/len(s)+1)[:n] }

// TestSecretTokenFamilies: each family's token is found whole in a
// sentence, and its placeholder forms are not.
func TestSecretTokenFamilies(t *testing.T) {
	found := []struct{ family, tok string }{
		{"slack app", "xapp-1-A0B1C2D3E4F-1234567890123-" + synth("9f3a7c1e5b2d4086", 64)},
		{"slack webhook", "https://hooks.slack.com/services/T0AB1CD2E/B0FG3HI4J/" + synth("Qw3rTy7uIo9pAs1D", 24)},
		{"slack webhook, no scheme", "hooks.slack.com/workflows/T0AB1CD2E/A0FG3HI4JKL/" + synth("48120937", 18) + "/" + synth("Zx8Cv6Bn4M", 15)},
		{"slack config", "xoxe.xoxp-1-" + synth("Mi0yLTM0MTQwNDE0MDE3Ni0z", 164)},
		{"slack refresh", "xoxe-1-" + synth("My0xLTM0MTQwNDE0MDE3Ni01", 146)},
		{"slack legacy workspace", "xoxa-2-5k1h7m2q9z"},
		{"slack legacy", "xoxo-523423-234243-234233-e039d02840a0b9379c"},
		{"openai", "sk-" + synth("Ab3dE6gH9jK2mN5pQ8sT", 20) + "T3BlbkFJ" + synth("uV1wX4yZ7aB0cD3eF6gH", 20)},
		{"openai project", "sk-proj-" + synth("Ab3dE6gH9jK2_mN5pQ8sT-", 74) + "T3BlbkFJ" + synth("uV1wX4yZ7aB0cD3eF6gH", 74)},
		{"openai service account", "sk-svcacct-" + synth("Ab3dE6gH9jK2mN5pQ8sT", 58) + "T3BlbkFJ" + synth("uV1wX4yZ7aB0cD3eF6gH", 58)},
		{"openai admin", "sk-admin-" + synth("Ab3dE6gH9jK2mN5pQ8sT", 58) + "T3BlbkFJ" + synth("uV1wX4yZ7aB0cD3eF6gH", 58)},
		{"anthropic", "sk-ant-api03-" + synth("q7W_e2R-t9Y1u4I6o3P8a5S0d", 93) + "AA"},
		{"anthropic admin", "sk-ant-admin01-" + synth("q7W_e2R-t9Y1u4I6o3P8a5S0d", 93) + "AA"},
		{"stripe live", "sk_live_" + synth("51HqLyjWDarjtT1zdp7dc", 24)},
		{"stripe restricted", "rk_live_" + synth("51HqLyjWDarjtT1zdp7dc", 24)},
		{"stripe test", "sk_test_" + synth("4eC39HqLyjWDarjtT1zdp7dc", 24)},
		{"stripe restricted test", "rk_test_" + synth("4eC39HqLyjWDarjtT1zdp7dc", 24)},
		{"google", "AIza" + synth("SyD3asb-2pEZVqMkmL6M9N6", 35)},
		{"hugging face", "hf_" + synth("QJPYADbNZNWUpZuQJgcVJxsX", 34)},
		{"hugging face org", "api_org_" + synth("TgetqCjAQiRRjOUjNFehJN", 34)},
		{"npm", "npm_" + synth("8f602mrf28mz003238q6", 36)},
		{"pypi", "pypi-AgEIcHlwaS5vcmc" + synth("b74614d67fc90da84bc2261280933b2", 60)},
		{"gitlab routable", "glpat-" + synth("eem68qivsjkfcxm9e823mk5bo1b", 27) + ".g590nppcc"},
		{"pgp", "-----BEGIN PGP PRIVATE KEY BLOCK-----\n" + synth("lQWGBGSVV4YBDAClvRnxezIRy2Yv7SFl", 64) + "\n=8xQN\n-----END PGP PRIVATE KEY BLOCK-----"},
		{"openssh", "-----BEGIN OPENSSH PRIVATE KEY-----\n" + synth("b3BlbnNzaC1rZXktdjEAAAAABG5vbmU", 70) + "\n-----END OPENSSH PRIVATE KEY-----"},
		{"pkcs8 encrypted", "-----BEGIN ENCRYPTED PRIVATE KEY-----\n" + synth("MIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkq", 64) + "\n-----END ENCRYPTED PRIVATE KEY-----"},
		{"ec", "-----BEGIN EC PRIVATE KEY-----\n" + synth("MHcCAQEEIBkg4LVWM9nuwNSk3yByxZ", 64) + "\n-----END EC PRIVATE KEY-----"},
		{"dsa", "-----BEGIN DSA PRIVATE KEY-----\n" + synth("MIIBuwIBAAKBgQDdkBRl6L6v0M3", 64) + "\n-----END DSA PRIVATE KEY-----"},
		{"unsigned jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ0ZXN0LXVzZXIifQ."},
	}
	for _, tt := range found {
		text := "config: use " + tt.tok + " here"
		fs := Scanner{}.Scan([]byte(text))
		if len(fs) != 1 || fs[0].Class != Secret || text[fs[0].Start:fs[0].End] != tt.tok {
			t.Errorf("%s: %q: findings %v", tt.family, tt.tok, fs)
		}
	}
	for _, text := range []string{
		"AKIAIOSFODNN7EXAMPLE", "AKIAXXXXXXXXXXXXXXXX",
		"ghp_" + synth("x", 36), "github_pat_" + synth("x", 82),
		"glpat-XXXXXXXXXXXXXXXXXXXX", "glpat-xxxxxxxx-xxxxxxxxxxxxxxxxxx.xxxxxxxxx", "GR134894112312312312312312312",
		"xoxb-xxxxxxxxx-xxxxxxxxxx-xxxxxxxxxxxx", "xoxp-572370529330-573807301142-572331691188-####################",
		"xoxe.xoxp-1-SlackAppConfigurationAccessTokenHere", "xoxa-nyc and xoxo-indieweb-1",
		"sk-ant-api03-" + synth("q7W_e2R-t9Y1u4I6o3P8a5S0d", 93) + "BB",
		"sk_live_0000000000000000", "AIza" + synth("a", 35),
		"hf_" + synth("x", 34), "api_org_" + synth("X", 34), "hf_requiredCharacteristicTypesForDisplayMetadata",
		"npm_" + synth("0", 36), "task_test_5wrtffzzjle8zfdmjv0m6ki3d4bwvs is a test name",
		"-----BEGIN PRIVATE KEY-----\nanything\n-----END PRIVATE KEY-----",
		"-----BEGIN OPENSSH PRIVATE KEY----------END OPENSSH PRIVATE KEY-----",
		"https://hooks.slack.com/services/" + synth("X", 44),
		"skin, risk, skill, sky, nobody, run, rk, hf, npm",
		"bearer bonds are old", "Authorization: Bearer <your-token>", "Authorization: Bearer ${TOKEN}", "Authorization: Bearer ********",
		`password: "********"`, "api_key = <your-token>", "api_key=${TOKEN}", "secret: changeme", "password = changeme123",
		`"accessor":"rA1wk0Y45YCufyfq"`, "credentialsId: 'ff083f76-7804-4ef1-80e4-fe975bb9141b'",
		`public_key = "9Cnzj4p4WGeKLs1Pt8QuKUpRKfFLfRYC9AIKjbJTWit"`, "primaryKey=JGefK3r2mvKFTWbsW43MghdJV_iKvj",
		"token: abc", "ratio a:b=3:4, x => y, <p>text</p>, f(\"token\", \"short\")",
		"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	} {
		for _, f := range (Scanner{}).Scan([]byte(text)) {
			if f.Class == Secret {
				t.Errorf("%q: unexpected %q", text, text[f.Start:f.End])
			}
		}
	}
}

// TestBearerAndAssignments: the value is the finding, not the name or
// the scheme word, in the forms config files and code write.
func TestBearerAndAssignments(t *testing.T) {
	const v = "Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB"
	const aws = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzq8vT3kLw2"
	for _, tt := range []struct{ text, want string }{
		{"curl -H 'Authorization: Bearer " + v + "' https://api.example.org", v},
		{"Authorization: bearer " + v, v},
		{"aws_secret_access_key = " + aws, aws},
		{"AWS_SECRET_ACCESS_KEY=" + aws, aws},
		{`genericToken := "` + v + `"`, v},
		{`"genericToken" => "` + v + `",`, v},
		{`$genericToken .= "` + v + `";`, v},
		{"generic_TOKEN ?= '" + v + "'", v},
		{"generic_token: " + v, v},
		{`{"api_token": "` + v + `"}`, v},
		{"var genericToken string = `" + v + "`", v},
		{"access_key: " + v, v},
		{"secret_token=" + v, v},
		{`"credentials" : "` + v + `"`, v},
		{"user_auth: " + v, v},
		{`client_secret = "` + v + `"`, v},
		{"<genericToken>\n    " + v + "\n</genericToken>", v},
		{`System.setProperty("API_TOKEN", "` + v + `")`, v},
		{`{"config.ini": "GENERIC_TOKEN=` + v + `\nBACKUP_ENABLED=true"}`, v},
		{"export DB_PASSWORD=" + v, v},
	} {
		var got []string
		for _, f := range (Scanner{}).Scan([]byte(tt.text)) {
			if f.Class == Secret {
				got = append(got, tt.text[f.Start:f.End])
			}
		}
		if len(got) != 1 || got[0] != tt.want {
			t.Errorf("%q: secrets %q, want %q", tt.text, got, tt.want)
		}
	}
}

// TestPlaceholder: stand-ins are recognised, random bodies are not.
func TestPlaceholder(t *testing.T) {
	for _, s := range []string{"xxxxxxxxxxxxxxxx", "XXXX-XXXX-XXXX", "0000000000", "123123123123", "abababababab",
		"IOSFODNN7EXAMPLE", "changeme", "****", "<token>", "${TOKEN}", "#####", ""} {
		if !placeholder([]byte(s)) {
			t.Errorf("%q: not a placeholder", s)
		}
	}
	for _, s := range []string{"Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB", "2-511111111", "e039d02840a0b9379c", "wfyk8086g3wfvncr0ssfi7ua"} {
		if placeholder([]byte(s)) {
			t.Errorf("%q: a placeholder", s)
		}
	}
}

// FuzzSecrets: the separator, call and XML readers and the token readers
// never panic and report spans inside the text.
func FuzzSecrets(f *testing.F) {
	f.Add([]byte(`genericToken := "Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB"`))
	f.Add([]byte("<t>\n x</t> <token>Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB</token> ("))
	f.Add([]byte(`set("api_token", "dafa7817-e246-48f3-91a7-e87653d587b8`))
	f.Add([]byte("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ0In0. sk-ant-api03- xoxe.xoxb-1- xapp-1-A-1-"))
	f.Add([]byte("-----BEGIN PGP PRIVATE KEY BLOCK-----\nabc"))
	f.Fuzz(func(t *testing.T, text []byte) {
		for p := range text {
			for _, m := range [...]func([]byte, int) (Finding, bool){matchSeparator, matchCallAssignment, matchSecretWord, matchSecretPrefix, matchBearer, matchSlackWebhook} {
				if fd, ok := m(text, p); ok && (fd.Start < 0 || fd.End > len(text) || fd.Start >= fd.End) {
					t.Fatalf("%q at %d: bad span %+v", text, p, fd)
				}
			}
			if text[p] == '-' && hasPrefixAt(text, p, "-----BEGIN ") {
				if fd, ok := matchPEM(text, p); ok && (fd.Start != p || fd.End > len(text)) {
					t.Fatalf("%q: bad span %+v", text, fd)
				}
			}
		}
		credentialName(text)
		placeholder(text)
	})
}
