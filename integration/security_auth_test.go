package integration

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/router/auth"
)

// Tests of the authentication hardening of the security review (items 6
// and 10) against a real router over WebSocket on 127.0.0.1, with the
// wampkit client as the attacker.

const (
	aliceTicket = "correct horse battery staple"
	bobTicket   = "tr0ub4dor&3"
)

// startTicketEnv starts a router whose realm1 admits alice and bob by
// ticket, throttled by thr.
func startTicketEnv(tb testing.TB, thr router.AuthThrottle) *env {
	tb.Helper()
	return startEnv(tb, router.Config{AuthThrottle: thr, Realms: []router.RealmConfig{{Name: realm1, Authenticators: []router.Authenticator{
		&auth.Ticket{Principals: map[string]auth.Principal{"alice": {Secret: aliceTicket}, "bob": {Secret: bobTicket}}},
	}}}})
}

// attempt is how one client.Dial with a ticket ended.
type attempt struct {
	challenged bool
	reason     protocol.URI // "" if joined
	message    string
}

// dialTicket joins realm1 over WebSocket (or in-process with local) as
// authid with ticket and returns how that went.
func dialTicket(tb testing.TB, e *env, local bool, authid, ticket string) attempt {
	tb.Helper()
	var a attempt
	cfg := e.clientConfig()
	cfg.AuthID = authid
	cfg.Auth = []client.Authenticator{client.AuthFunc("ticket", func(ctx context.Context, c *protocol.Challenge) (*protocol.Authenticate, error) {
		a.challenged = true
		return client.TicketAuth(ticket).Authenticate(ctx, c)
	})}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	var c *client.Client
	var err error
	if local {
		p, perr := e.r.Connect(ctx)
		if perr != nil {
			tb.Fatalf("Connect: %v", perr)
		}
		c, err = client.Join(ctx, p, cfg)
	} else {
		c, err = client.Dial(ctx, e.wsURL, cfg)
	}
	if err == nil {
		c.Close()
		return a
	}
	var ae *client.AbortError
	if !errors.As(err, &ae) {
		tb.Fatalf("join as %q: %v, want a WELCOME or an ABORT", authid, err)
	}
	a.reason, a.message = ae.Reason, ae.Details.String("message")
	return a
}

var (
	joined  = attempt{challenged: true}
	guessed = attempt{challenged: true, reason: protocol.ErrAuthenticationDenied, message: "wrong ticket"}
	held    = attempt{reason: protocol.ErrAuthenticationDenied, message: router.ThrottledMessage}
)

// TestAuthAttackOneAuthID: an attacker guesses alice's ticket as fast as
// it can. Only AuthIDFailures guesses reach the authenticator (each
// costs a CHALLENGE round); then every attempt on alice, the right ticket
// included, is refused at once, while bob still gets in from the same
// address. The failures and the start of throttling are logged, without
// any ticket.
func TestAuthAttackOneAuthID(t *testing.T) {
	e := startTicketEnv(t, router.AuthThrottle{AuthIDFailures: 5, AuthIDWindow: time.Hour, AddressFailures: 1000})
	counts := map[attempt]int{}
	for i := range 50 {
		counts[dialTicket(t, e, false, "alice", fmt.Sprintf("guess-%03d", i))]++
	}
	if diff := cmp.Diff(map[attempt]int{guessed: 5, held: 45}, counts, cmp.AllowUnexported(attempt{})); diff != "" {
		t.Errorf("outcomes of 50 guesses (-want +got):\n%s", diff)
	}
	if got := dialTicket(t, e, false, "alice", aliceTicket); got != held {
		t.Errorf("alice with her ticket during the attack: %+v, want %+v", got, held)
	}
	if got := dialTicket(t, e, true, "alice", aliceTicket); got != held {
		t.Errorf("alice in-process during the attack: %+v, want %+v", got, held)
	}
	if got := dialTicket(t, e, false, "bob", bobTicket); got != joined {
		t.Errorf("bob from the same address: %+v, want %+v", got, joined)
	}
	if n := e.log.count(`msg="router: authentication failed"`); n != 5 {
		t.Errorf("%d failures logged, want 5", n)
	}
	if n := e.log.count("throttling failed authentications of an authid"); n != 1 {
		t.Errorf("start of throttling logged %d times, want once", n)
	}
	checkNoSecrets(t, e)
}

// TestAuthAttackManyAuthIDs: an attacker tries one ticket on many
// authids from one address. Only AddressFailures attempts reach the
// authenticator; then the address is refused whatever authid it names,
// while in-process clients (no address) are not held back.
func TestAuthAttackManyAuthIDs(t *testing.T) {
	e := startTicketEnv(t, router.AuthThrottle{AddressFailures: 10, AddressWindow: time.Hour, AuthIDFailures: 1000})
	counts := map[attempt]int{}
	for i := range 30 {
		counts[dialTicket(t, e, false, fmt.Sprintf("user%03d", i), "123456")]++
	}
	if diff := cmp.Diff(map[attempt]int{guessed: 10, held: 20}, counts, cmp.AllowUnexported(attempt{})); diff != "" {
		t.Errorf("outcomes of 30 attempts (-want +got):\n%s", diff)
	}
	if got := dialTicket(t, e, false, "alice", aliceTicket); got != held {
		t.Errorf("alice from the attacker's address: %+v, want %+v", got, held)
	}
	if got := dialTicket(t, e, true, "alice", aliceTicket); got != joined {
		t.Errorf("alice in-process: %+v, want %+v", got, joined)
	}
	if n := e.log.count("throttling failed authentications from an address"); n != 1 {
		t.Errorf("start of throttling logged %d times, want once", n)
	}
	checkNoSecrets(t, e)
}

// TestAuthAttackConcurrent: attackers on many connections at once still
// get only a bounded number of guesses through (sessions admitted
// together may fail together, but the budget never goes below zero), and
// the router stays up for others.
func TestAuthAttackConcurrent(t *testing.T) {
	e := startTicketEnv(t, router.AuthThrottle{AuthIDFailures: 5, AuthIDWindow: time.Hour, AddressFailures: 1000})
	var challenged atomic.Int64
	done := make(chan struct{})
	const workers, each = 8, 10
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range each {
				if dialTicket(t, e, false, "alice", fmt.Sprintf("guess-%d-%d", w, i)).challenged {
					challenged.Add(1)
				}
			}
		}()
	}
	for range workers {
		<-done
	}
	if n := challenged.Load(); n < 5 || n > 5+workers {
		t.Errorf("%d of %d concurrent guesses were challenged, want 5 to %d", n, workers*each, 5+workers)
	}
	if got := dialTicket(t, e, false, "bob", bobTicket); got != joined {
		t.Errorf("bob: %+v, want %+v", got, joined)
	}
}

// checkNoSecrets fails if the router's log holds a ticket or a guess.
func checkNoSecrets(tb testing.TB, e *env) {
	tb.Helper()
	for _, s := range []string{aliceTicket, bobTicket, "guess-", "123456"} {
		if n := e.log.count(s); n > 0 {
			tb.Errorf("%d log lines contain %q", n, s)
		}
	}
}

// TestAuthEnumeration: with each built-in method of the client, an
// unknown authid (or cryptosign key) is challenged and refused exactly
// like a known one with a wrong secret.
func TestAuthEnumeration(t *testing.T) {
	known := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	unknownSeed := make([]byte, ed25519.SeedSize)
	unknownSeed[0] = 1
	unknown := ed25519.NewKeyFromSeed(unknownSeed)
	e := startEnv(t, router.Config{AuthThrottle: router.AuthThrottle{Disabled: true}, Realms: []router.RealmConfig{{Name: realm1, Authenticators: []router.Authenticator{
		&auth.Ticket{Principals: map[string]auth.Principal{"alice": {Secret: aliceTicket}}},
		&auth.WAMPCRA{Principals: map[string]auth.Principal{"alice": {Secret: aliceTicket}}},
		&auth.Cryptosign{Principals: map[string]auth.CryptosignPrincipal{"alice": {PublicKeys: []ed25519.PublicKey{known.Public().(ed25519.PublicKey)}}}},
	}}}})
	tests := []struct {
		name           string
		known, unknown client.Config
	}{
		{"ticket",
			client.Config{AuthID: "alice", Auth: []client.Authenticator{client.TicketAuth("guess")}},
			client.Config{AuthID: "mallory", Auth: []client.Authenticator{client.TicketAuth("guess")}}},
		{"wampcra",
			client.Config{AuthID: "alice", Auth: []client.Authenticator{client.WAMPCRAAuth("guess")}},
			client.Config{AuthID: "mallory", Auth: []client.Authenticator{client.WAMPCRAAuth("guess")}}},
		{"cryptosign",
			client.Config{AuthID: "alice", AuthExtra: cryptosignExtra(known), Auth: []client.Authenticator{client.CryptosignAuth(unknown)}},
			client.Config{AuthID: "mallory", Auth: []client.Authenticator{client.CryptosignAuth(unknown)}}},
		{"cryptosign key only",
			client.Config{AuthExtra: cryptosignExtra(known), Auth: []client.Authenticator{client.CryptosignAuth(unknown)}},
			client.Config{Auth: []client.Authenticator{client.CryptosignAuth(unknown)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			abort := func(cfg client.Config) *client.AbortError {
				t.Helper()
				cfg.Realm, cfg.Logger = realm1, e.log.logger()
				ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
				defer cancel()
				c, err := client.Dial(ctx, e.wsURL, cfg)
				var ae *client.AbortError
				if !errors.As(err, &ae) {
					if err == nil {
						c.Close()
					}
					t.Fatalf("Dial() = %v, want an ABORT", err)
				}
				return ae
			}
			k, u := abort(tt.known), abort(tt.unknown)
			if k.Reason != protocol.ErrAuthenticationDenied {
				t.Errorf("known authid, wrong secret: ABORT %s, want %s", k.Reason, protocol.ErrAuthenticationDenied)
			}
			if diff := cmp.Diff(k, u); diff != "" {
				t.Errorf("ABORT of an unknown authid differs (-known +unknown):\n%s", diff)
			}
			if strings.Contains(fmt.Sprint(u.Details), "mallory") {
				t.Errorf("ABORT names the authid: %v", u.Details)
			}
		})
	}
}
