package integration

import (
	"context"
	"errors"
	"testing"

	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// TestPassthru sends payloads in Payload Passthru Mode through the router
// over every link: the bytes and the ppt_* keys arrive untouched as
// INVOCATION, RESULT, ERROR and EVENT.
func TestPassthru(t *testing.T) {
	e2ee := &client.Passthru{Scheme: "wamp", Serializer: "cbor", Cipher: "xsalsa20poly1305", KeyID: "0x1234"}
	mqtt := &client.Passthru{Scheme: "mqtt", Serializer: "native"}
	payload := randomBytes(300)
	for _, l := range links() {
		t.Run(l.String(), func(t *testing.T) {
			e := startEnv(t, router.Config{})
			callee := e.joinPPT(t, l)
			caller := e.joinPPT(t, l)
			ctx := timeout(t)
			register(t, callee, "com.example.sealed", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
				p, ok := client.PassthruOf(inv.Details)
				if !ok || p != *e2ee {
					return nil, &protocol.Error{URI: "com.example.wrong_ppt"}
				}
				if d := sameBytes(inv.Args[0], payload); d != "" {
					return nil, &protocol.Error{URI: "com.example.wrong_payload", Args: protocol.List{d}}
				}
				if len(inv.Args) == 1 && inv.Kwargs["fail"] == nil {
					return &client.Result{Args: inv.Args, Passthru: mqtt}, nil
				}
				return nil, nil
			})
			res, err := caller.Do(ctx, &client.CallRequest{Procedure: "com.example.sealed", Args: protocol.List{payload}, Passthru: e2ee})
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			if p, ok := client.PassthruOf(res.Details); !ok || p != *mqtt {
				t.Errorf("RESULT passthru = %+v, %v; want %+v", p, ok, *mqtt)
			}
			if d := sameBytes(res.Args[0], payload); d != "" {
				t.Errorf("RESULT payload: %s", d)
			}

			register(t, callee, "com.example.fails", func(_ context.Context, inv *client.Invocation) (*client.Result, error) {
				return nil, &protocol.Error{URI: "com.example.sealed_error", Args: inv.Args,
					Details: protocol.Dict{"ppt_scheme": "x_test"}}
			})
			_, err = caller.Do(ctx, &client.CallRequest{Procedure: "com.example.fails", Args: protocol.List{payload}, Passthru: e2ee})
			perr := asError(t, err)
			if p, ok := client.PassthruOf(perr.Details); perr.URI != "com.example.sealed_error" || !ok || p.Scheme != "x_test" {
				t.Errorf("ERROR = %v with details %v, want com.example.sealed_error with ppt_scheme x_test", perr.URI, perr.Details)
			}

			in, _ := subscribe(t, callee, "com.example.news")
			if _, err := caller.DoPublish(ctx, &client.PublishRequest{Topic: "com.example.news", Args: protocol.List{payload},
				Passthru: mqtt, Acknowledge: true}); err != nil {
				t.Fatalf("DoPublish: %v", err)
			}
			if err := in.wait(ctx, 1); err != nil {
				t.Fatal(err)
			}
			ev := in.get(0)
			if p, ok := client.PassthruOf(ev.Details); !ok || p != *mqtt {
				t.Errorf("EVENT passthru = %+v, %v; want %+v", p, ok, *mqtt)
			}
			if d := sameBytes(ev.Args[0], payload); d != "" {
				t.Errorf("EVENT payload: %s", d)
			}
		})
	}
}

// TestPassthruRefused: a callee without the feature cannot be called in
// the mode, and a bad ppt_* option is refused.
func TestPassthruRefused(t *testing.T) {
	e := startEnv(t, router.Config{})
	l := links()[0]
	plain := e.join(t, l)
	register(t, plain, "com.example.plain", echo)
	caller := e.joinPPT(t, l)
	ctx := timeout(t)
	_, err := caller.Do(ctx, &client.CallRequest{Procedure: "com.example.plain", Args: protocol.List{[]byte{1}},
		Passthru: &client.Passthru{Scheme: "x_a"}})
	if perr := asError(t, err); perr.URI != protocol.ErrFeatureNotSupported {
		t.Errorf("call of a callee without the feature: %v, want %s", err, protocol.ErrFeatureNotSupported)
	}
	_, err = caller.DoPublish(ctx, &client.PublishRequest{Topic: "com.example.t", Args: protocol.List{[]byte{1}},
		Passthru: &client.Passthru{Scheme: "wamp", Serializer: "json"}, Acknowledge: true})
	if perr := asError(t, err); perr.URI != protocol.ErrInvalidArgument {
		t.Errorf("bad ppt_serializer: %v, want %s", err, protocol.ErrInvalidArgument)
	}
	// The session is fine afterwards.
	if _, err := caller.Call(ctx, "com.example.plain", 1); err != nil {
		t.Errorf("Call after refusals: %v", err)
	}
	var ae *client.AbortError
	if errors.As(caller.Err(), &ae) {
		t.Errorf("session aborted: %v", ae)
	}
}

// joinPPT is join with Config.PayloadPassthru.
func (e *env) joinPPT(tb testing.TB, l link) *client.Client {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	cfg := e.clientConfig()
	cfg.PayloadPassthru = true
	var c *client.Client
	var err error
	if l.transport == "local" {
		p, derr := e.r.Connect(ctx)
		if derr != nil {
			tb.Fatalf("Connect: %v", derr)
		}
		c, err = client.Join(ctx, p, cfg)
	} else {
		cfg.Serializer = l.serializer
		c, err = client.Dial(ctx, e.url(l), cfg)
	}
	if err != nil {
		tb.Fatalf("join over %v: %v", l, err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}
