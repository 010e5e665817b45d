//go:build !unix

package cli_test

func permissiveUmask() func() { return func() {} }
