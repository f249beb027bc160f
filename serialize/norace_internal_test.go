//go:build !race

package serialize

// raceOn is raceEnabled for the internal tests.
const raceOn = false
