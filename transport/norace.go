//go:build !race

package transport

// raceBuild reports whether the race detector is on (see sysRead).
const raceBuild = false
