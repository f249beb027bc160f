package console

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Config configures the console's [Handler].
type Config struct {
	// Realms are the realms offered on the sign-in form, in order. Empty
	// means the operator types the realm's name.
	Realms []string
	// WebSocketURL is the URL of the router's WebSocket endpoint that
	// the page dials: absolute (ws://host:port/ws), or relative to the
	// page's own URL (the browser resolves it, ws:// or wss: as the page's
	// http: or https:). Empty means "ws", next to the page.
	WebSocketURL string
	// Version is shown in the page's header. Empty means none.
	Version string
}

// Handler returns the console's http.Handler: GET / is the page; the
// page's script, style and wampy.js sit beside it; GET config.json has
// the realms, the WebSocket URL and the version. Everything else the page
// shows it asks the router over WAMP. Mount it under a prefix with
// http.StripPrefix.
func Handler(cfg Config) http.Handler {
	if cfg.WebSocketURL == "" {
		cfg.WebSocketURL = "ws"
	}
	if cfg.Realms == nil {
		cfg.Realms = []string{}
	}
	page, err := fs.Sub(static, "static")
	if err != nil {
		panic("console: " + err.Error()) // the embedded directory is there
	}
	mux := http.NewServeMux()
	files := http.FileServerFS(page)
	mux.Handle("GET /", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The page is made to be framed by nobody and to load only its
		// own files.
		w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /config.json", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{"realms": cfg.Realms, "url": cfg.WebSocketURL, "version": cfg.Version})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	data, _ := json.Marshal(v) // maps of strings and numbers
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(append(data, '\n'))
}
