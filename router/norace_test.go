//go:build !race

package router

// raceEnabled is set when the race detector, which allocates on its own
// account, is on.
const raceEnabled = false
