package config

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestResolvePrecedence sets each key at every level from the highest down
// and checks the highest set level wins: flags > environment > file > default.
func TestResolvePrecedence(t *testing.T) {
	keys := []struct {
		name    string
		env     string // environment variable
		yaml    string // config file key
		setFlag func(*Settings, string)
		get     func(Settings) string
		def     func(env map[string]string) string
	}{
		{"embed model", "RAG_EMBED_MODEL", "embed_model",
			func(s *Settings, v string) { s.EmbedModel = v }, func(s Settings) string { return s.EmbedModel },
			func(map[string]string) string { return DefaultEmbedModel }},
		{"chat model", "RAG_CHAT_MODEL", "chat_model",
			func(s *Settings, v string) { s.ChatModel = v }, func(s Settings) string { return s.ChatModel },
			func(map[string]string) string { return DefaultChatModel }},
		{"ollama host", "OLLAMA_HOST", "ollama_host",
			func(s *Settings, v string) { s.OllamaHost = v }, func(s Settings) string { return s.OllamaHost },
			func(map[string]string) string { return "" }},
		{"store", "RAG_STORE", "store",
			func(s *Settings, v string) { s.Store = v }, func(s Settings) string { return s.Store },
			func(map[string]string) string { return "" }},
		{"index", "RAG_INDEX", "index",
			func(s *Settings, v string) { s.Index = v }, func(s Settings) string { return s.Index },
			func(env map[string]string) string { return filepath.Join(env["XDG_DATA_HOME"], "rag", "index") }},
	}
	levels := []string{"flag", "env", "file", "default"}
	for _, k := range keys {
		for top, level := range levels {
			t.Run(k.name+"/"+level, func(t *testing.T) {
				dir := t.TempDir()
				cfg := filepath.Join(dir, "config.yaml")
				env := map[string]string{"RAG_CONFIG": cfg, "XDG_DATA_HOME": filepath.Join(dir, "data")}
				var flags Settings
				// Set this level and every level below it.
				for l := top; l < len(levels); l++ {
					switch levels[l] {
					case "flag":
						k.setFlag(&flags, "from-flag")
					case "env":
						env[k.env] = "from-env"
					case "file":
						writeFile(t, cfg, k.yaml+": from-file\n")
					}
				}
				s, err := Resolve(flags, envOf(env))
				if err != nil {
					t.Fatal(err)
				}
				want := "from-" + level
				switch {
				case level == "default":
					want = k.def(env)
				case level == "file" && k.yaml == "index":
					want = filepath.Join(dir, want) // relative to the config file's folder
				}
				if got := k.get(s); got != want {
					t.Errorf("%s = %q, want %q", k.name, got, want)
				}
				if got := s.Sources[k.yaml].Origin; string(got) != level {
					t.Errorf("Sources[%s] = %q, want %q", k.yaml, got, level)
				}
			})
		}
	}
}

func TestResolveChunkTokens(t *testing.T) {
	tests := []struct {
		name string
		flag int
		file string
		env  string
		want int
	}{
		{"flag wins", 300, "chunk_tokens: 200\n", "400", 300},
		{"file", 0, "chunk_tokens: 200\n", "400", 200},
		{"environment is not read", 0, "", "400", 0},
		{"unset keeps the index's own", 0, "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "config.yaml")
			if tt.file != "" {
				writeFile(t, cfg, tt.file)
			}
			env := map[string]string{"RAG_CONFIG": cfg, "RAG_INDEX": dir, "RAG_CHUNK_TOKENS": tt.env}
			s, err := Resolve(Settings{ChunkTokens: tt.flag}, envOf(env))
			if err != nil {
				t.Fatal(err)
			}
			if s.ChunkTokens != tt.want {
				t.Errorf("ChunkTokens = %d, want %d", s.ChunkTokens, tt.want)
			}
		})
	}
}

func TestResolveEmbedExplicit(t *testing.T) {
	tests := []struct {
		name  string
		flag  string
		env   string
		file  string
		model string
		want  bool
	}{
		{"default", "", "", "chat_model: mistral\n", DefaultEmbedModel, false},
		{"flag", "nomic-embed-text", "", "", "nomic-embed-text", true},
		{"env", "", "mxbai-embed-large", "", "mxbai-embed-large", true},
		{"file", "", "", "embed_model: bge-m3\n", "bge-m3", true},
		{"file names the default", "", "", "embed_model: all-minilm\n", "all-minilm", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "config.yaml")
			if tt.file != "" {
				writeFile(t, cfg, tt.file)
			}
			env := map[string]string{"RAG_CONFIG": cfg, "RAG_INDEX": dir, "RAG_EMBED_MODEL": tt.env}
			s, err := Resolve(Settings{EmbedModel: tt.flag}, envOf(env))
			if err != nil {
				t.Fatal(err)
			}
			if s.EmbedModel != tt.model || s.EmbedExplicit != tt.want {
				t.Errorf("EmbedModel, EmbedExplicit = %q, %v; want %q, %v", s.EmbedModel, s.EmbedExplicit, tt.model, tt.want)
			}
		})
	}
}

func TestConfigFileLocation(t *testing.T) {
	dir := t.TempDir()
	xdg := filepath.Join(dir, "xdg")
	explicit := filepath.Join(dir, "elsewhere", "rag.yaml")
	writeFile(t, filepath.Join(xdg, "rag", "config.yaml"), "chat_model: from-xdg\n")
	writeFile(t, explicit, "chat_model: from-rag-config\n")
	tests := []struct {
		name     string
		env      map[string]string
		wantFile string
		wantChat string
	}{
		{"XDG_CONFIG_HOME", map[string]string{"XDG_CONFIG_HOME": xdg}, filepath.Join(xdg, "rag", "config.yaml"), "from-xdg"},
		{"RAG_CONFIG wins", map[string]string{"XDG_CONFIG_HOME": xdg, "RAG_CONFIG": explicit}, explicit, "from-rag-config"},
		{"missing file is fine", map[string]string{"RAG_CONFIG": filepath.Join(dir, "none.yaml")}, filepath.Join(dir, "none.yaml"), DefaultChatModel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["RAG_INDEX"] = dir
			if got := File(envOf(tt.env)); got != tt.wantFile {
				t.Errorf("File = %q, want %q", got, tt.wantFile)
			}
			s, err := Resolve(Settings{}, envOf(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if s.ChatModel != tt.wantChat {
				t.Errorf("ChatModel = %q, want %q", s.ChatModel, tt.wantChat)
			}
		})
	}
}

func TestConfigFileHomeFallback(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("os.UserConfigDir is ~/.config only on Linux")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	if got, want := File(envOf(nil)), filepath.Join(home, ".config", "rag", "config.yaml"); got != want {
		t.Errorf("File = %q, want %q", got, want)
	}
}

func TestResolveBadFile(t *testing.T) {
	tests := []struct{ name, content string }{
		{"malformed YAML", "embed_model: [unclosed\n"},
		{"tab indentation", "embed_model:\n\t- x\n"},
		{"wrong type", "chunk_tokens: lots\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "config.yaml")
			writeFile(t, cfg, tt.content)
			_, err := Resolve(Settings{}, envOf(map[string]string{"RAG_CONFIG": cfg, "RAG_INDEX": "x"}))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), cfg) {
				t.Errorf("error %q does not name the file %s", err, cfg)
			}
		})
	}
	t.Run("unreadable", func(t *testing.T) {
		dir := t.TempDir() // a folder, not a file
		_, err := Resolve(Settings{}, envOf(map[string]string{"RAG_CONFIG": dir, "RAG_INDEX": "x"}))
		if err == nil || !strings.Contains(err.Error(), dir) {
			t.Errorf("err = %v, want one naming %s", err, dir)
		}
	})
}

func TestDataDir(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the HOME fallback is ~/.local/share on Linux")
	}
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"XDG_DATA_HOME", map[string]string{"XDG_DATA_HOME": "/data", "HOME": "/home/u"}, filepath.Join("/data", "rag")},
		{"HOME", map[string]string{"HOME": "/home/u"}, filepath.Join("/home/u", ".local", "share", "rag")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DataDir(envOf(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("DataDir = %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("no HOME in getenv", func(t *testing.T) {
		home := t.TempDir()
		t.Setenv("HOME", home)
		got, err := DataDir(envOf(nil))
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join(home, ".local", "share", "rag"); got != want {
			t.Errorf("DataDir = %q, want %q", got, want)
		}
	})
	t.Run("default index lives in it", func(t *testing.T) {
		env := map[string]string{"HOME": "/home/u", "RAG_CONFIG": filepath.Join(t.TempDir(), "none.yaml")}
		s, err := Resolve(Settings{}, envOf(env))
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Join("/home/u", ".local", "share", "rag", "index"); s.Index != want {
			t.Errorf("Index = %q, want %q", s.Index, want)
		}
	})
}

// TestResolveSources checks that each source names the flag, the variable or
// the file a value came from, as rag doctor shows it.
func TestResolveSources(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	writeFile(t, cfg, "chat_model: mistral\nchunk_tokens: 300\n")
	env := map[string]string{"RAG_CONFIG": cfg, "RAG_EMBED_MODEL": "bge-m3", "XDG_DATA_HOME": dir}
	s, err := Resolve(Settings{OllamaHost: "http://h:1"}, envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"index":        "default",
		"embed_model":  "environment RAG_EMBED_MODEL",
		"chat_model":   "config file " + cfg,
		"ollama_host":  "flag --ollama-host",
		"chunk_tokens": "config file " + cfg,
		"store":        "default (the local index)",
		"ocr":          "default",
	}
	for _, k := range Keys {
		if got := s.Sources[k].String(); got != want[k] {
			t.Errorf("Sources[%s] = %q, want %q", k, got, want[k])
		}
	}
}

// TestResolveIndexPath is the regression test for a config file with
// "index: ~/idx" that created a folder named ~ in the working folder.
func TestResolveIndexPath(t *testing.T) {
	dir := t.TempDir()
	cfgDir := filepath.Join(dir, "conf")
	home := filepath.Join(dir, "home")
	tests := []struct {
		name, file, env, flag, want string
	}{
		{"file tilde", "index: ~/idx\n", "", "", filepath.Join(home, "idx")},
		{"file tilde alone", "index: \"~\"\n", "", "", home},
		{"file $HOME", "index: $HOME/idx\n", "", "", filepath.Join(home, "idx")},
		{"file ${HOME}", "index: ${HOME}/a/idx\n", "", "", filepath.Join(home, "a", "idx")},
		{"file relative", "index: data/idx\n", "", "", filepath.Join(cfgDir, "data", "idx")},
		{"file absolute", "index: " + filepath.Join(dir, "abs") + "\n", "", "", filepath.Join(dir, "abs")},
		{"file ~user is not expanded", "index: ~bob/idx\n", "", "", filepath.Join(cfgDir, "~bob", "idx")},
		{"env tilde", "", "~/envidx", "", filepath.Join(home, "envidx")},
		{"flag kept as given", "", "~/envidx", "rel/idx", "rel/idx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := filepath.Join(cfgDir, "config.yaml")
			writeFile(t, cfg, tt.file)
			env := map[string]string{"RAG_CONFIG": cfg, "HOME": home, "RAG_INDEX": tt.env}
			s, err := Resolve(Settings{Index: tt.flag}, envOf(env))
			if err != nil {
				t.Fatal(err)
			}
			if s.Index != tt.want {
				t.Errorf("Index = %q, want %q", s.Index, tt.want)
			}
		})
	}
}

// TestResolveOCR: ocr is off by default, on from the config file or from
// --ocr, each source named.
func TestResolveOCR(t *testing.T) {
	dir := t.TempDir()
	on := filepath.Join(dir, "on.yaml")
	writeFile(t, on, "ocr: true\n")
	tests := []struct {
		name, config string
		flag, want   bool
		source       string
	}{
		{"default off", filepath.Join(dir, "none.yaml"), false, false, "default"},
		{"config file", on, false, true, "config file " + on},
		{"flag", filepath.Join(dir, "none.yaml"), true, true, "flag --ocr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Resolve(Settings{OCR: tt.flag}, envOf(map[string]string{"RAG_CONFIG": tt.config, "XDG_DATA_HOME": dir}))
			if err != nil {
				t.Fatal(err)
			}
			if s.OCR != tt.want || s.Sources["ocr"].String() != tt.source {
				t.Errorf("OCR %v from %q, want %v from %q", s.OCR, s.Sources["ocr"], tt.want, tt.source)
			}
		})
	}
}
