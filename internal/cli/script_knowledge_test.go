package cli_test

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	registerCmd("age", cmdAge)
	registerCmd("chatformat", cmdChatFormat)
}

// cmdChatFormat prints the structured-output format (a JSON schema) of the
// fake Ollama's last chat request: chatformat.
func cmdChatFormat(ts *testscript.TestScript, neg bool, args []string) {
	f := ts.Value(fakeKey{}).(*fake)
	fmt.Fprintln(ts.Stdout(), string(f.LastChat().Format))
}

// cmdAge makes a file look old: age PATH DAYS sets its modification time to
// DAYS days ago.
func cmdAge(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: age PATH DAYS")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	t := time.Now().Add(-time.Duration(n) * 24 * time.Hour)
	ts.Check(os.Chtimes(ts.MkAbs(args[0]), t, t))
}
