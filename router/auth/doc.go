// Package auth holds the built-in authentication methods of the wampkit
// router (WAMP spec, advanced "Authentication"): each is a
// [router.Authenticator] for [router.RealmConfig].Authenticators.
// Anonymous access ([router.Anonymous]) and the interfaces stay in
// package router; this package imports router, router does not import it.
//
//   - [Ticket]: a shared ticket (authentication_ticket.md);
//   - [WAMPCRA]: WAMP Challenge-Response, plain or salted with PBKDF2
//     ([DeriveCRAKey]; authentication_wampcra.md);
//   - [Cryptosign]: WAMP-Cryptosign with Ed25519 keys, TLS channel
//     binding (tls-exporter, tls-unique) and router authentication with
//     RouterKey (authentication_cryptosign.md);
//   - [SCRAM]: WAMP-SCRAM with Argon2id or PBKDF2 ([NewSCRAMPrincipal];
//     authentication_scram.md);
//   - [TLS]: TLS client certificates, authmethod "tls" as Crossbar.io
//     names it, by fingerprint or by a CA-verified name.
//
// # Overview
//
// A realm whose users log in with a ticket or a WAMP-CRA secret:
//
//	r, err := router.New(router.Config{Realms: []router.RealmConfig{{
//		Name: "realm1",
//		Authenticators: []router.Authenticator{
//			&auth.Ticket{Principals: map[string]auth.Principal{
//				"alice": {Secret: "s3cret", Role: "user"},
//			}},
//			&auth.WAMPCRA{Principals: map[string]auth.Principal{
//				"backend": {Secret: "other-s3cret", Role: "backend"},
//			}},
//		},
//	}}})
//
// Each authenticator takes either a static table of principals or a
// Lookup (Check for [Ticket]) function that asks a user store.
//
// # Unknown principals
//
// Every method here challenges an unknown authid or key and refuses it
// exactly like a known one with a wrong secret (TLS, which sends no
// CHALLENGE, refuses every certificate it does not accept alike) (ABORT
// wamp.error.authentication_denied after the CHALLENGE), with a decoy
// challenge shaped like those of real principals, so that clients cannot
// find out who exists. The router throttles and logs failed attempts per
// authid and per client address ([router.AuthThrottle]).
//
// # Concurrency
//
// An authenticator must not be modified once the router is started; all
// of them are safe for concurrent use by the router's sessions.
package auth
