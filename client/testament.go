package client

import (
	"context"

	"github.com/wampkit/wampkit/protocol"
)

// TestamentScope says when the router publishes a testament (WAMP spec,
// advanced/pubsub_testament.md): when the session is detached from its
// transport, or when it is destroyed. A router without session
// resumption does both whenever a session ends, detached testaments
// first.
type TestamentScope string

// Testament scopes. The zero TestamentScope means TestamentDestroyed.
const (
	TestamentDestroyed TestamentScope = "destroyed"
	TestamentDetached  TestamentScope = "detached"
)

// TestamentOptions are the options of [Client.AddTestament]. A nil
// *TestamentOptions means all defaults.
type TestamentOptions struct {
	// Scope is when the testament is published; "" means
	// TestamentDestroyed.
	Scope TestamentScope
	// Publish holds the PUBLISH.Options of the event, for example
	// "exclude", "eligible" or "disclose_me"; the router may ignore
	// options that make no sense for a testament, such as "acknowledge".
	// Nil means none.
	Publish protocol.Dict
}

// AddTestament asks the router to publish an event on topic with args
// and kwargs on this session's behalf once the session is gone, however
// it ends: a GOODBYE, a lost connection, or being killed by another
// session (WAMP spec, advanced/pubsub_testament.md, the meta procedure
// wamp.session.add_testament). Testaments of a scope are published in
// the order they were added. Check
// RouterRoles().Supports(protocol.RoleDealer, protocol.FeatureTestamentMetaAPI)
// to learn whether the router supports them.
//
// AddTestament waits for the router's answer (at most
// Config.ResponseTimeout when ctx has no deadline). A refusal wraps a
// *protocol.Error, for example wamp.error.invalid_uri for a topic the
// session could not publish to, or wamp.error.no_such_procedure from a
// router without testaments.
func (c *Client) AddTestament(ctx context.Context, topic protocol.URI, args protocol.List, kwargs protocol.Dict, opts *TestamentOptions) error {
	if args == nil {
		args = protocol.List{}
	}
	if kwargs == nil {
		kwargs = protocol.Dict{}
	}
	kw := protocol.Dict{}
	if opts != nil {
		if opts.Scope != "" {
			kw["scope"] = string(opts.Scope)
		}
		if opts.Publish != nil {
			kw["publish_options"] = opts.Publish
		}
	}
	ctx, cancel := withTimeout(ctx, c.cfg.ResponseTimeout)
	defer cancel()
	_, err := c.Do(ctx, &CallRequest{
		Procedure: "wamp.session.add_testament",
		Args:      protocol.List{string(topic), args, kwargs},
		Kwargs:    kw,
	})
	return err
}

// FlushTestaments removes the testaments of scope ("" means
// TestamentDestroyed) that this session added (the meta procedure
// wamp.session.flush_testaments), for example before a clean shutdown
// after which they no longer apply. It waits like [Client.AddTestament].
func (c *Client) FlushTestaments(ctx context.Context, scope TestamentScope) error {
	var kw protocol.Dict
	if scope != "" {
		kw = protocol.Dict{"scope": string(scope)}
	}
	ctx, cancel := withTimeout(ctx, c.cfg.ResponseTimeout)
	defer cancel()
	_, err := c.Do(ctx, &CallRequest{Procedure: "wamp.session.flush_testaments", Kwargs: kw})
	return err
}
