package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that the example, and the routers its test starts, leave
// no goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
