// Package secrets finds credentials inside ordinary document text, so that
// rag never stores them where a model or an output can see them. It finds
// private key blocks (a file holding one is a secret and is not indexed at
// all) and high-confidence tokens: cloud keys and GitHub, GitLab, Slack and
// Stripe tokens, which it redacts in place.
//
// The token rules are a curated subset of gitleaks' rule set
// (github.com/gitleaks/gitleaks, config/gitleaks.toml, MIT licence), chosen
// for having a fixed, recognisable shape, so they almost never match prose or
// code. It does not look for generic "password = ..." assignments: those are
// too often false positives in documentation. docs/secrets.md says why the
// rules are copied rather than imported.
package secrets

import (
	"math"
	"regexp"
	"sort"
	"strings"
)

// Rule is one kind of credential.
type Rule struct {
	ID string // gitleaks' rule id where it has one, e.g. "github-pat"
	// Keywords: the text must contain one of them (lowercase), a cheap test
	// before the regular expression runs.
	Keywords []string
	re       *regexp.Regexp
	group    int     // the submatch holding the secret; 0 for the whole match
	entropy  float64 // least Shannon entropy of the secret, in bits per byte
}

// Finding is one credential found in a text.
type Finding struct {
	Rule       string // the Rule's ID
	Start, End int    // byte offsets of the secret in the text
}

func rule(id string, keywords []string, group int, entropy float64, re string) Rule {
	return Rule{ID: id, Keywords: keywords, re: regexp.MustCompile(re), group: group, entropy: entropy}
}

// Rules are the credentials Find looks for.
var Rules = []Rule{
	rule("aws-access-token", []string{"a3t", "akia", "asia", "abia", "acca"}, 1, 3,
		`\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b`),
	// No prefix marks an AWS secret key: it is found by the name it is
	// given (aws_secret_access_key, SecretAccessKey, AWS_SECRET_KEY ...).
	rule("aws-secret-access-key", []string{"secret"}, 1, 3.5,
		`(?i)aws_?(?:secret)_?(?:access_?)?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)`),
	rule("aws-secret-access-key", []string{"secret"}, 1, 3.5,
		`(?i)"?secret_?access_?key"?\s*[:=]\s*"?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)`),
	rule("gcp-api-key", []string{"aiza"}, 1, 4, `\b(AIza[\w-]{35})(?:[\x60'"\s;,]|\\[nr]|$)`),
	rule("azure-storage-account-key", []string{"accountkey"}, 1, 4,
		`(?i)AccountKey=([A-Za-z0-9+/]{86}==)`),
	rule("github-pat", []string{"ghp_"}, 0, 3, `ghp_[0-9a-zA-Z]{36}`),
	rule("github-fine-grained-pat", []string{"github_pat_"}, 0, 3, `github_pat_\w{82}`),
	rule("github-oauth", []string{"gho_"}, 0, 3, `gho_[0-9a-zA-Z]{36}`),
	rule("github-app-token", []string{"ghu_", "ghs_"}, 0, 3, `(?:ghu|ghs)_[0-9a-zA-Z]{36}`),
	rule("github-refresh-token", []string{"ghr_"}, 0, 3, `ghr_[0-9a-zA-Z]{36}`),
	rule("gitlab-pat", []string{"glpat-"}, 0, 3, `glpat-[\w-]{20,300}(?:\.[0-9a-z]{9})?`),
	rule("gitlab-ptt", []string{"glptt-"}, 0, 3, `glptt-[0-9a-f]{40}`),
	rule("gitlab-rrt", []string{"gr1348941"}, 0, 3, `GR1348941[\w-]{20}`),
	rule("gitlab-deploy-token", []string{"gldt-"}, 0, 3, `gldt-[0-9a-zA-Z_\-]{20}`),
	rule("slack-bot-token", []string{"xoxb"}, 0, 3, `xoxb-[0-9]{8,14}-[0-9a-zA-Z-]{18,}`),
	rule("slack-user-token", []string{"xoxp", "xoxe"}, 0, 2, `xox[pe](?:-[0-9]{10,13}){3}-[a-zA-Z0-9-]{28,34}`),
	rule("slack-app-token", []string{"xapp"}, 0, 2, `(?i)xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+`),
	rule("slack-webhook-url", []string{"hooks.slack.com"}, 0, 0,
		`(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{43,56}`),
	rule("stripe-access-token", []string{"sk_", "rk_"}, 1, 2,
		`\b((?:sk|rk)_(?:test|live|prod)_[a-zA-Z0-9]{10,99})(?:[\x60'"\s;,]|\\[nr]|$)`),
}

// privateKeyRE matches a whole PEM or OpenSSH private key block: a BEGIN
// line, at least 64 characters of key material, and its END line, so a
// document that only mentions "-----BEGIN RSA PRIVATE KEY-----" is not one.
var privateKeyRE = regexp.MustCompile(`-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----[\s\S]{64,}?-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----`)

// HasPrivateKey reports whether text holds a private key block (RSA, EC,
// DSA, OpenSSH, PKCS#8, PGP ...).
func HasPrivateKey(text string) bool {
	return strings.Contains(text, "-----BEGIN") && privateKeyRE.MatchString(text)
}

// Find returns the credentials in text, in order, never overlapping.
func Find(text string) []Finding {
	lower := strings.ToLower(text)
	var out []Finding
	for _, r := range Rules {
		if !containsAny(lower, r.Keywords) {
			continue
		}
		for _, m := range r.re.FindAllStringSubmatchIndex(text, -1) {
			start, end := m[2*r.group], m[2*r.group+1]
			if start < 0 || entropy(text[start:end]) < r.entropy {
				continue
			}
			out = append(out, Finding{Rule: r.ID, Start: start, End: end})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Start != out[j].Start {
			return out[i].Start < out[j].Start
		}
		return out[i].End > out[j].End
	})
	kept := out[:0]
	for _, f := range out {
		if len(kept) > 0 && f.Start < kept[len(kept)-1].End {
			continue // inside one already found
		}
		kept = append(kept, f)
	}
	return kept
}

// Redact returns text with every credential Find finds replaced by
// "[REDACTED:RULE]", and what it replaced.
func Redact(text string) (string, []Finding) {
	found := Find(text)
	if len(found) == 0 {
		return text, nil
	}
	var b strings.Builder
	b.Grow(len(text))
	last := 0
	for _, f := range found {
		b.WriteString(text[last:f.Start])
		b.WriteString("[REDACTED:" + f.Rule + "]")
		last = f.End
	}
	b.WriteString(text[last:])
	return b.String(), found
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// entropy is the Shannon entropy of s in bits per byte: a real key is
// random, a placeholder such as "xxxxxxxx" or "AKIAAAAAAAAAAAAAAAAA" is not.
func entropy(s string) float64 {
	if s == "" {
		return 0
	}
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	h := 0.0
	n := float64(len(s))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}
