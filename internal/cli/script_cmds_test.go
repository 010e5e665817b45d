package cli_test

import "fmt"

// extraConds are testscript conditions ([name]) registered by other files.
var extraConds = map[string]func() bool{}

func extraCondition(cond string) (bool, error) {
	if f, ok := extraConds[cond]; ok {
		return f(), nil
	}
	return false, fmt.Errorf("unknown condition %q", cond)
}
