package integration

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine outlives the tests: the router,
// the clients and the transports must all wait for what they start.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
