package secrets

import (
	"strings"
	"testing"
)

// The tokens are assembled from parts so that the repository itself holds
// nothing a secret scanner would flag.
var (
	awsID     = "AKIA" + "QYLPMN5HFIQR7XZT"
	awsSecret = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYzq8Lr3Tt9e"
	ghp       = "ghp_" + "Xk9vQ2mLp7RtY4wZ8nB3cD6fG1hJ5sA0eUiO"
	glpat     = "glpat-" + "x9Rk2LmQ7vTz4Wp8NcB3"
	xoxb      = "xoxb-" + "1234567890123-1234567890123-" + "aZ8kQ2mLp7RtY4wX9nB3cD6f"
	stripe    = "sk_live_" + "51H8xQ2mLp7RtY4wZ8nB3cD6f"
	gcp       = "AIza" + "SyD8xQ2mLp7RtY4wZ8nB3cD6fG1hJ5sA0eU"
	ghPAT     = "github_pat_" + "11ABCDEFG0" + strings.Repeat("aZ8kQ2mLp7", 7) + "Xk"
	pemKey    = "-----BEGIN RSA PRIVATE KEY-----\n" +
		"MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi3+pC1nHr0d0ZbqR8eXv2Jk1gI\n" +
		"q8Lr3Tt9eWzYxV7uB6nM4kP2sD0fH5jG1aQwErTyUiOpAsDfGhJkLzXcVbNmQwE=\n" +
		"-----END RSA PRIVATE KEY-----\n"
)

func TestFind(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string // "rule=secret"
	}{
		{"aws access key id", "key id " + awsID + " here", []string{"aws-access-token=" + awsID}},
		{"aws secret in json", `{"aws_secret_access_key": "` + awsSecret + `"}`, []string{"aws-secret-access-key=" + awsSecret}},
		{"aws secret in ini", "aws_secret_access_key = " + awsSecret + "\n", []string{"aws-secret-access-key=" + awsSecret}},
		{"aws secret as SecretAccessKey", `"SecretAccessKey": "` + awsSecret + `",`, []string{"aws-secret-access-key=" + awsSecret}},
		{"aws env var", "export AWS_SECRET_KEY=" + awsSecret, []string{"aws-secret-access-key=" + awsSecret}},
		{"aws secret without its name is not found", "value " + awsSecret, nil},
		{"github pat", "token: " + ghp, []string{"github-pat=" + ghp}},
		{"github fine-grained pat", ghPAT, []string{"github-fine-grained-pat=" + ghPAT}},
		{"gitlab pat", "GITLAB_TOKEN=" + glpat, []string{"gitlab-pat=" + glpat}},
		{"slack bot token", "SLACK=" + xoxb, []string{"slack-bot-token=" + xoxb}},
		{"stripe live key", "stripe.api_key = '" + stripe + "'", []string{"stripe-access-token=" + stripe}},
		{"gcp api key", "key=" + gcp + "\n", []string{"gcp-api-key=" + gcp}},
		{"two in one text", ghp + " and " + awsID, []string{"github-pat=" + ghp, "aws-access-token=" + awsID}},
		{"placeholder of low entropy", "AKIAAAAAAAAAAAAAAAAA and ghp_" + strings.Repeat("a", 36), nil},
		{"prose about keys", "Set aws_secret_access_key in ~/.aws/credentials; a GitHub token starts with ghp_.", nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, f := range Find(tt.text) {
				got = append(got, f.Rule+"="+tt.text[f.Start:f.End])
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("Find = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	in := "{\n  \"aws_access_key_id\": \"" + awsID + "\",\n  \"aws_secret_access_key\": \"" + awsSecret + "\"\n}\n"
	out, found := Redact(in)
	want := "{\n  \"aws_access_key_id\": \"[REDACTED:aws-access-token]\",\n  \"aws_secret_access_key\": \"[REDACTED:aws-secret-access-key]\"\n}\n"
	if out != want {
		t.Errorf("Redact =\n%s\nwant\n%s", out, want)
	}
	if len(found) != 2 {
		t.Errorf("found %d, want 2", len(found))
	}
	if out, found := Redact("nothing here"); out != "nothing here" || found != nil {
		t.Errorf("Redact of clean text = %q, %v", out, found)
	}
}

func TestHasPrivateKey(t *testing.T) {
	tests := []struct {
		name string
		text string
		want bool
	}{
		{"rsa pem", "notes\n" + pemKey + "more", true},
		{"openssh", strings.ReplaceAll(pemKey, "RSA PRIVATE KEY", "OPENSSH PRIVATE KEY"), true},
		{"pkcs8", strings.ReplaceAll(pemKey, "RSA PRIVATE KEY", "PRIVATE KEY"), true},
		{"pgp", strings.ReplaceAll(pemKey, "RSA PRIVATE KEY", "PGP PRIVATE KEY BLOCK"), true},
		{"begin line only, in prose", "A key file starts with -----BEGIN RSA PRIVATE KEY----- and ends with -----END RSA PRIVATE KEY-----.", false},
		{"public key", strings.ReplaceAll(pemKey, "RSA PRIVATE KEY", "PUBLIC KEY"), false},
		{"certificate", strings.ReplaceAll(pemKey, "RSA PRIVATE KEY", "CERTIFICATE"), false},
		{"plain text", "hello world", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HasPrivateKey(tt.text); got != tt.want {
				t.Errorf("HasPrivateKey = %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzRedact: Redact never panics, leaves clean text as it was, gives
// ordered findings inside the text, and leaves nothing Find would find.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"", "hello", ghp, awsID, `{"aws_secret_access_key": "` + awsSecret + `"}`, xoxb + ghp, pemKey, "AKIA", "ghp_\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, found := Redact(s)
		if len(found) == 0 {
			if out != s {
				t.Fatalf("clean text changed: %q -> %q", s, out)
			}
			return
		}
		last := 0
		for _, fd := range found {
			if fd.Start < last || fd.End <= fd.Start || fd.End > len(s) {
				t.Fatalf("bad finding %+v in %q", fd, s)
			}
			last = fd.End
		}
		if again := Find(out); len(again) > 0 {
			t.Fatalf("redacted text %q still holds %q", out, out[again[0].Start:again[0].End])
		}
		_ = HasPrivateKey(s)
	})
}
