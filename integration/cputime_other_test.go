//go:build !unix

package integration

import "time"

// cpuTime is not measured on this platform; benchmarks then report no
// CPU time.
func cpuTime() time.Duration { return 0 }
