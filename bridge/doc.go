// Package bridge implements an HTTP bridge to a wampkit router: systems
// that speak only HTTP (a webhook, a cron job, curl) publish events and
// call procedures with a POST of a JSON body, like Crossbar.io's HTTP
// publisher and caller.
//
// # Overview
//
// A [Bridge] is an http.Handler with two endpoints, relative to where it
// is mounted:
//
//	POST /publish  {"topic": "com.example.news", "args": ["hello"], "kwargs": {}, "options": {}}
//	               200 {"id": <publication ID>}
//	POST /call     {"procedure": "com.example.add", "args": [2, 3], "kwargs": {}, "options": {}}
//	               200 {"args": [5], "kwargs": {}}
//
// Each request carries a bearer token (Authorization: Bearer <token>)
// that [Config].Principals maps to a realm, an authid and an authrole. The
// bridge publishes or calls from an in-process session of the router with
// that identity, so the realm's authorization applies exactly as to any
// other session of the role: a denied call is answered 403 with the WAMP
// error URI in the body.
//
// Since the router authenticates every session, the bridge's sessions
// need an authenticator of their own in the realms they use: a
// [*Authenticator], made first and put into those realms'
// Authenticators. It admits only in-process sessions that carry a
// one-time key the bridge just made for them, never a network client,
// whatever it sends:
//
//	auth := bridge.NewAuthenticator()
//	r, err := router.New(router.Config{Realms: []router.RealmConfig{{
//		Name:           "realm1",
//		Authenticators: []router.Authenticator{router.Anonymous{}, auth},
//	}}})
//	...
//	b, err := bridge.New(bridge.Config{
//		Router:        r,
//		Authenticator: auth,
//		Principals: []bridge.Principal{
//			{Token: os.Getenv("WEBHOOK_TOKEN"), Realm: "realm1", AuthID: "webhook", AuthRole: "backend"},
//		},
//	})
//	...
//	defer b.Close()
//	mux.Handle("/bridge/", http.StripPrefix("/bridge", b))
//
// and then:
//
//	curl -H "Authorization: Bearer $WEBHOOK_TOKEN" -d '{"topic":"com.example.news","args":["hi"]}' \
//		http://127.0.0.1:8083/bridge/publish
//
// # Requests and answers
//
// The body is one JSON object (Content-Type application/json, or none)
// of at most [Config].MaxBodyBytes; unknown keys are an error. args must
// be a list and kwargs an object if present; options are sent as
// PUBLISH.Options or CALL.Options (acknowledge is always set for a
// publication, so that an error can be reported). JSON numbers that are
// integers reach the router as integers, other numbers as floats.
//
// Successful requests are answered 200 with a JSON object. Failures are
// answered with a JSON object {"error": <URI>, "message": ..., "args":
// ..., "kwargs": ...} (message, args and kwargs only when there are any)
// and the status of [StatusOf]:
//
//	400 a body that is not valid JSON, unknown keys, no topic or procedure,
//	    wamp.error.invalid_uri, wamp.error.invalid_argument, ...
//	401 no bearer token, or one no principal has (WWW-Authenticate: Bearer)
//	403 wamp.error.not_authorized, wamp.error.authorization_failed
//	404 wamp.error.no_such_procedure; an unknown path
//	405 a method other than POST
//	413 a body above MaxBodyBytes; wamp.error.payload_size_exceeded
//	415 a Content-Type other than application/json
//	429 wampkit.error.limit_exceeded (too many calls pending);
//	    wamp.error.authentication_denied with Retry-After: too many wrong
//	    tokens from the client's address lately ([Throttle])
//	502 an error URI the callee chose (an application error)
//	503 wamp.error.no_available_callee, wamp.error.unavailable; the bridge
//	    is closed or cannot join the realm
//	504 no result within [Config].CallTimeout; wamp.error.timeout,
//	    wamp.error.canceled
//
// # Concurrency
//
// A Bridge serves any number of requests at once. It keeps one session
// per principal, joined on its first request and shared by its later
// ones; a session that ends (killed by an operator, say) is joined again
// on the next request. [Bridge.Close] may be called concurrently with
// requests, which fail with 503 from then on; it closes the sessions and
// returns once they have ended.
package bridge
