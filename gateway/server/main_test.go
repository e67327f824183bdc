package server_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives the tests: every
// server a test starts is shut down by it, and a shut-down server leaves
// nothing running.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, libraryGoroutines...)
}

// libraryGoroutines are the goroutines of libraries that may outlive a
// server that was shut down, each bounded in time and holding nothing of
// ours.
// The two fasthttp goroutines sleep at the top of their stacks, so they are
// matched by their own function anywhere in the stack.
var libraryGoroutines = []goleak.Option{
	// protoactor's dead-letter log throttle: the first dead letter of a
	// period starts a goroutine that waits out the period (1 s) and then
	// logs how many it throttled. A message sent to an actor that has
	// just stopped is a dead letter, so a shutdown can start one.
	goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
	// fasthttp's clock for the Date header: started by the first server
	// of the process and kept for its life.
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
	// fasthttp's idle-worker cleaner, one per server: it sleeps
	// MaxIdleWorkerDuration (10 s) between rounds and sees that its server
	// stopped only when it wakes.
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
}
