package cli_test

import (
	"fmt"

	"github.com/rogpeppe/go-internal/testscript"
)

type scriptCmd = func(ts *testscript.TestScript, neg bool, args []string)

// extraCmds are testscript commands registered by other files (init), so
// that a new command does not grow script_test.go.
var extraCmds = map[string]scriptCmd{}

func withExtraCmds(cmds map[string]scriptCmd) map[string]scriptCmd {
	for k, v := range extraCmds {
		cmds[k] = v
	}
	return cmds
}

// extraConds are testscript conditions ([name]) registered by other files.
var extraConds = map[string]func() bool{}

func extraCondition(cond string) (bool, error) {
	if f, ok := extraConds[cond]; ok {
		return f(), nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}
