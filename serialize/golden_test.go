package serialize_test

import (
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/serialize"
)

var update = flag.Bool("update", false, "update golden files and the fuzz seed corpus")

// goldenText renders an encoding for a golden file: JSON as it is, binary
// formats as hex, 32 bytes per line, so that diffs are reviewable.
func goldenText(s serialize.Serializer, b []byte) string {
	if !s.Binary() {
		return string(b) + "\n"
	}
	var sb strings.Builder
	h := hex.EncodeToString(b)
	for len(h) > 64 {
		sb.WriteString(h[:64] + "\n")
		h = h[64:]
	}
	sb.WriteString(h + "\n")
	return sb.String()
}

// TestGolden pins the wire format of every test message in every format
// (testdata/<format>/<message>.golden). Regenerate with
// `go test ./serialize -run TestGolden -update` and review the diff.
func TestGolden(t *testing.T) {
	for _, s := range serializers {
		for _, tt := range messages() {
			name := strings.ReplaceAll(tt.name, "/", "-")
			t.Run(s.String()+"/"+name, func(t *testing.T) {
				b, err := s.Codec().Encode(nil, tt.msg)
				if err != nil {
					t.Fatal(err)
				}
				got := goldenText(s, b)
				file := filepath.Join("testdata", s.String(), name+".golden")
				if *update {
					if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(file)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if diff := cmp.Diff(string(want), got); diff != "" {
					t.Errorf("Encode(%s) differs from %s (-want +got):\n%s", tt.name, file, diff)
				}
			})
		}
	}
}
