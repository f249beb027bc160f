// Package buildinfo says which version of wampkit a binary is, for the
// commands' -version flags and logs.
package buildinfo

import "runtime/debug"

// develVersion is the version of a build that says nothing about its
// source: no -ldflags, no module version, no version control information
// (as with go build -buildvcs=false, or in a Git worktree, whose .git is
// a file the go command does not look into).
const develVersion = "(devel)"

// Version returns the version of the running binary, as Of does.
func Version(stamped string) string {
	info, ok := debug.ReadBuildInfo()
	return Of(stamped, info, ok)
}

// Of returns the version a binary reports: stamped, the value set
// with -ldflags '-X main.version=...', which wins; else the version of the
// main module in the build info, which go install module@version sets
// (v1.2.3) and go build sets from version control (a pseudo-version such
// as v0.0.0-20261204120000-0123456789ab+dirty); else the version control
// revision alone (devel-0123456789ab, -dirty if the tree was modified);
// else develVersion.
func Of(stamped string, info *debug.BuildInfo, ok bool) string {
	if stamped != "" {
		return stamped
	}
	if !ok || info == nil {
		return develVersion
	}
	if v := info.Main.Version; v != "" && v != develVersion {
		return v
	}
	var rev string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return develVersion
	}
	v := "devel-" + rev[:min(len(rev), 12)]
	if dirty {
		v += "-dirty"
	}
	return v
}
