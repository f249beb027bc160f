package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestBuildVersion(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	const rev = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name    string
		stamped string
		info    *debug.BuildInfo
		ok      bool
		want    string
	}{
		{name: "ldflags win", stamped: "v9.9.9", info: &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, ok: true, want: "v9.9.9"},
		{name: "go install module@version", info: &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, ok: true, want: "v1.2.3"},
		{name: "go build in a clone", info: &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261204120000-0123456789ab+dirty"}, Settings: vcs(rev, "true")},
			ok: true, want: "v0.0.0-20261204120000-0123456789ab+dirty"},
		{name: "revision only", info: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "false")}, ok: true, want: "devel-0123456789ab"},
		{name: "revision of a modified tree", info: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs(rev, "true")}, ok: true, want: "devel-0123456789ab-dirty"},
		{name: "short revision", info: &debug.BuildInfo{Settings: vcs("abc", "false")}, ok: true, want: "devel-abc"},
		{name: "no vcs", info: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, ok: true, want: "(devel)"},
		{name: "no build info", ok: false, want: "(devel)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Of(tt.stamped, tt.info, tt.ok); got != tt.want {
				t.Errorf("Of(%q, ...) = %q, want %q", tt.stamped, got, tt.want)
			}
		})
	}
}
