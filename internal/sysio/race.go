//go:build race

package sysio

// raceBuild reports whether the race detector is on (see Read).
const raceBuild = true
