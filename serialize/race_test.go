//go:build race

package serialize_test

const raceEnabled = true
