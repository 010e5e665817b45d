package walk

import (
	"path"
	"path/filepath"
	"strings"
)

// secretNames are file names (compared in lower case) that hold credentials
// or private keys. The id_* names are SSH private keys; their .pub halves are
// public and fine to read.
var secretNames = map[string]bool{
	".env":             true,
	"id_rsa":           true,
	"id_dsa":           true,
	"id_ecdsa":         true,
	"id_ed25519":       true,
	".netrc":           true,
	".npmrc":           true,
	".pypirc":          true,
	"credentials":      true,
	"credentials.json": true,
	".git-credentials": true,
}

// secretExts are extensions of key stores and password databases.
var secretExts = []string{".pem", ".key", ".p12", ".pfx", ".kdbx"}

// secretDirs are folders whose every file is a secret, should a walk ever
// reach them (they are hidden, so only an explicit root or Include does).
var secretDirs = []string{".aws", ".ssh", ".gnupg"}

// secretRule returns the rule that makes a file named name a secret, such as
// ".env.*" or "*.pem", or "" if the name is not one. The rule is shown to the
// user, who can then add a matching Include pattern.
func secretRule(name string) string {
	name = strings.ToLower(name)
	switch {
	case secretNames[name]:
		return name
	case strings.HasPrefix(name, ".env."):
		return ".env.*"
	}
	for _, ext := range secretExts {
		if strings.HasSuffix(name, ext) {
			return "*" + ext
		}
	}
	if ok, _ := path.Match("service-account*.json", name); ok {
		return "service-account*.json"
	}
	return ""
}

// secretDirRule returns the rule that makes every file in a folder named name
// a secret, such as ".ssh/", or "" if the folder is not one.
func secretDirRule(name string) string {
	name = strings.ToLower(name)
	for _, s := range secretDirs {
		if name == s {
			return s + "/"
		}
	}
	return ""
}

// secretAncestorRule is secretDirRule for the nearest of dir and its
// ancestors that is a secret folder, so a root such as ~/.ssh/keys is known
// to hold secrets.
func secretAncestorRule(dir string) string {
	for {
		if rule := secretDirRule(filepath.Base(dir)); rule != "" {
			return rule
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
