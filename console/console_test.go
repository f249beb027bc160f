package console_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/console"
)

func TestHandler(t *testing.T) {
	h := console.Handler(console.Config{
		Realms:  []string{"realm1", "realm2"},
		Version: "v1.2.3",
	})
	srv := httptest.NewServer(http.StripPrefix("/console", h))
	defer srv.Close()
	get := func(path string) (int, http.Header, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(body)
	}
	for path, want := range map[string]string{
		"/console/":             "<title>wampkit console</title>",
		"/console/console.js":   "wampkit.session.page",
		"/console/wampy.min.js": "Wampy",
	} {
		status, hdr, body := get(path)
		if status != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("GET %s = %d, want 200 with %q", path, status, want)
		}
		if !strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q, want the page's own files only", path, hdr.Get("Content-Security-Policy"))
		}
	}
	var cfg map[string]any
	_, _, body := get("/console/config.json")
	if err := json.Unmarshal([]byte(body), &cfg); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"realms": []any{"realm1", "realm2"}, "url": "ws", "version": "v1.2.3"}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("config.json mismatch (-want +got):\n%s", diff)
	}
	// The chart's figures come over WAMP (wampkit.router.stats), not
	// over HTTP.
	if status, _, _ := get("/console/stats.json"); status != http.StatusNotFound {
		t.Errorf("GET /console/stats.json = %d, want 404", status)
	}
}
