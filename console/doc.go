// Package console serves wampkit's live web console: one page, embedded
// in the binary, that an operator opens in a browser to watch and act on
// a router.
//
// The page speaks WAMP itself, with wampy.js (embedded beside it, so it
// works offline): it signs in to a realm with ticket authentication, as
// a principal whose role may use the meta API, and shows, updating live
// from the meta API and its events, the realm's sessions (authid, role,
// transport, address, when they joined, messages per second), its
// registrations (callees, invocations) and subscriptions (subscribers),
// and a chart of the router's messages per second. From it an operator
// kills a session, calls a procedure and publishes an event. It may sign
// in to several realms, one session each, and switch between them; each
// stays signed in until the operator signs out of it.
//
// Besides the spec's meta API the page uses the router's own procedures
// (see router/doc.go): wampkit.session.page, which pages and filters the
// realm's sessions in the router, so that the page renders one page of
// rows and makes one call per refresh however many sessions there are
// (it stays fast with 10,000), and wampkit.router.stats, the router's
// message counts, for the chart. Nothing but the page itself and its
// config.json comes over HTTP.
//
// What the page may see and do is what the realm's Authorizer allows the
// role it signs in as (see router/doc.go, "Authorization"): an open realm
// refuses wamp.session.kill and hides the sessions' addresses, so give
// the console a role with explicit permissions, such as
//
//	admin:
//	  - {uri: wamp., match: prefix, allow: [call, subscribe]}
//	  - {uri: "", match: prefix, allow: [call, publish]}
//
// (the second rule lets it call wampkit.* too; an open realm refuses
// wampkit.router.stats, and the chart then says so, as it does when the
// router counts no messages: the chart needs router.Config.Metrics, which
// wampd sets whenever its admin listener is on).
//
// # Use
//
// [Handler] serves the page; the router's WebSocket endpoint must be
// reachable from it, by default at "ws" relative to the page, from the
// same origin:
//
//	mux.Handle("/console/", http.StripPrefix("/console", console.Handler(console.Config{
//		Realms: []string{"realm1"},
//	})))
//	mux.Handle("/console/ws", r.Handler())
//
// wampd does this on its admin listener (-admin host:port).
package console
