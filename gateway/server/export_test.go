package server

import "testing"

// FailAfterStep makes New fail with err after the named step, until t ends.
func FailAfterStep(t testing.TB, step string, err error) {
	failAfterStep = func(s string) error {
		if s == step {
			return err
		}
		return nil
	}
	t.Cleanup(func() { failAfterStep = nil })
}
