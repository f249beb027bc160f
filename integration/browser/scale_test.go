package browser

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wampkit/wampkit/console"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/router/auth"
	"github.com/wampkit/wampkit/transport"
)

// scaleSessions is how many sessions TestConsoleTenThousandSessions
// joins besides the console's own.
const scaleSessions = 10_000

// localAuth admits in-process sessions with the authid they ask for, in
// role "user": the test's stand-in for 10,000 real principals.
type localAuth struct{}

func (localAuth) AuthMethod() string { return "local" }

func (localAuth) Authenticate(_ context.Context, req *router.AuthRequest, _ router.Challenger) (*router.Identity, error) {
	if req.Transport.String("type") != "local" || req.AuthID == "" {
		return nil, &router.AuthError{Reason: protocol.ErrAuthenticationDenied}
	}
	return &router.Identity{AuthID: req.AuthID, AuthRole: "user"}, nil
}

// joinLocal joins an in-process session of realm1 with authid and returns
// its peer, which the caller closes.
func joinLocal(r *router.Router, authid string) (transport.Peer, error) {
	p, err := r.Connect(context.Background())
	if err != nil {
		return nil, err
	}
	err = p.Send(context.Background(), &protocol.Hello{Realm: "realm1", Details: protocol.Dict{
		"authid": authid, "authmethods": []any{"local"}, "roles": protocol.Dict{"caller": protocol.Dict{}},
	}})
	if err != nil {
		p.Close(nil)
		return nil, err
	}
	m, err := p.Recv()
	if err == nil {
		if _, ok := m.(*protocol.Welcome); !ok {
			err = fmt.Errorf("HELLO of %s answered with %v, want WELCOME", authid, m)
		}
	}
	if err != nil {
		p.Close(nil)
		return nil, err
	}
	return p, nil
}

// callsIn returns the CALLs the router has received so far.
func callsIn(tb testing.TB, reg prometheus.Gatherer) int {
	tb.Helper()
	families, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "wampkit_router_messages_in_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "type" && l.GetValue() == "CALL" {
					return int(m.GetCounter().GetValue())
				}
			}
		}
	}
	return 0
}

// TestConsoleTenThousandSessions opens the console of a router with
// 10,000 sessions joined in-process: it shows their count but renders one
// page of rows, finds one session by its authid, and follows a session
// that joins and leaves, without a call per session.
func TestConsoleTenThousandSessions(t *testing.T) {
	reg := prometheus.NewRegistry()
	roles, err := router.NewRoleAuthorizer(map[string][]router.Permission{
		"admin": {
			{URI: "wamp.", Match: protocol.MatchPrefix, Call: true, Subscribe: true},
			{URI: "", Match: protocol.MatchPrefix, Call: true, Publish: true},
		},
		"user": {},
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := router.New(router.Config{
		Metrics: reg,
		Logger:  slog.New(slog.DiscardHandler),
		// The sessions receive nothing: small in-process links keep
		// 10,000 of them at 5 MB rather than 320 MB.
		LocalQueueSize: 16,
		Realms: []router.RealmConfig{{
			Name: "realm1",
			Authenticators: []router.Authenticator{
				&auth.Ticket{Principals: map[string]auth.Principal{"operator": {Secret: "operator-ticket", Role: "admin"}}},
				localAuth{},
			},
			Authorizer: roles,
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	mux := http.NewServeMux()
	mux.Handle("/console/", http.StripPrefix("/console", console.Handler(console.Config{Realms: []string{"realm1"}})))
	mux.Handle("/console/ws", r.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	// 10,000 sessions, joined by a few goroutines at once while the
	// browser starts.
	peers := make([]transport.Peer, scaleSessions)
	t.Cleanup(func() {
		for _, p := range peers {
			if p != nil {
				p.Close(nil)
			}
		}
	})
	var wg sync.WaitGroup
	const joiners = 4
	errs := make([]error, joiners)
	for j := range joiners {
		wg.Go(func() {
			for i := j; i < scaleSessions && errs[j] == nil; i += joiners {
				peers[i], errs[j] = joinLocal(r, fmt.Sprintf("user-%05d", i))
			}
		})
	}
	ctx := newBrowser(t)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	before := callsIn(t, reg)
	do(t, ctx,
		chromedp.Navigate(srv.URL+"/console/"),
		chromedp.SendKeys(chromedp.ID("authid"), "operator"),
		chromedp.SendKeys(chromedp.ID("secret"), "operator-ticket"),
		chromedp.Click(chromedp.ID("signin")),
	)
	waitJS(t, ctx, `document.getElementById("status").className === "up"`)

	// The count is the realm's, the console's own session included; the
	// rows are one page.
	total := strconv.Itoa(scaleSessions + 1)
	waitJS(t, ctx, `document.getElementById("session-count").textContent === "`+total+`"`)
	rows := `document.querySelectorAll("#sessions tbody tr").length`
	waitJS(t, ctx, rows+` > 0`)
	if n := get(t, ctx, chromedp.Evaluate[int](rows)); n != 50 {
		t.Errorf("the console renders %d session rows, want one page of 50", n)
	}
	if got, want := get(t, ctx, chromedp.Evaluate[string](`document.getElementById("page").textContent`)), total+" match, page 1 of 201"; got != want {
		t.Errorf("the pager says %q, want %q", got, want)
	}
	// The filter finds one session among 10,000 by its authid.
	do(t, ctx, chromedp.SendKeys(chromedp.ID("session-filter"), "user-04321"))
	waitJS(t, ctx, rows+` === 1 && document.querySelector("#sessions tbody tr").dataset.authid === "user-04321"`)
	if got := get(t, ctx, chromedp.Evaluate[string](`document.getElementById("page").textContent`)); got != "1 match, page 1 of 1" {
		t.Errorf("the pager says %q with one match", got)
	}

	// A session that joins is counted and found; one that leaves is gone.
	late, err := joinLocal(r, "late-joiner")
	if err != nil {
		t.Fatal(err)
	}
	waitJS(t, ctx, `document.getElementById("session-count").textContent === "`+strconv.Itoa(scaleSessions+2)+`"`)
	get(t, ctx, chromedp.Evaluate[bool](`document.getElementById("session-filter").value = "", true`))
	do(t, ctx, chromedp.SendKeys(chromedp.ID("session-filter"), "late-"))
	waitJS(t, ctx, rows+` === 1 && document.querySelector("#sessions tbody tr").dataset.authid === "late-joiner"`)
	late.Close(nil)
	waitJS(t, ctx, `document.getElementById("session-count").textContent === "`+total+`" && `+rows+` === 0`)

	// All that without a call per session: the calls are the page's few
	// (one page of sessions, the registration and subscription lists,
	// the chart) times its refreshes, far from 10,000.
	calls := callsIn(t, reg) - before
	t.Logf("the console made %d calls while it showed %d sessions, filtered them, and saw one join and leave", calls, scaleSessions+1)
	if calls >= 1000 {
		t.Errorf("the console made %d calls, want far fewer than one per session", calls)
	}
}
