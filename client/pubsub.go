package client

import (
	"context"
	"runtime/debug"
	"slices"
	"sync/atomic"

	"github.com/wampkit/wampkit/protocol"
)

// Publish publishes an event with positional arguments args to topic,
// unacknowledged (WAMP spec, basic/publish_subscribe.md): it returns once
// the PUBLISH is queued on the transport, and errors the router may find
// are not reported. A [Kwargs] as the last of args is sent as the keyword
// arguments (PUBLISH.ArgumentsKw), as with [Client.Call]. Use
// [Client.DoPublish] for acknowledgement and options.
//
// Publish never blocks. When the transport's outbound queue is full it
// returns at once an error wrapping [transport.ErrQueueFull]: the event
// was not sent (and uses up no request id), the session goes on, and the
// caller may drop the event or retry it later (see "Flow control" in the
// package documentation). It fails with [ErrClosed] once the session is
// over.
func (c *Client) Publish(ctx context.Context, topic protocol.URI, args ...any) error {
	x := &publishState{msg: protocol.Publish{Options: noOptions, Topic: topic}}
	var err error
	if x.msg.Args, x.msg.Kwargs, err = copyArgs(&x.args, args); err != nil {
		return err
	}
	c.mu.Lock()
	err = c.sendRequestLocked(ctx, nil, &x.msg)
	c.mu.Unlock()
	return err
}

// publishState is a PUBLISH and its arguments, in one allocation.
type publishState struct {
	msg  protocol.Publish
	args [inlineArgs]any
}

// PublishRequest is a publication with options, for [Client.DoPublish].
type PublishRequest struct {
	// Topic is the topic to publish to. Required.
	Topic protocol.URI
	// Args and Kwargs are the event's payload; nil means none.
	Args   protocol.List
	Kwargs protocol.Dict
	// Acknowledge asks the broker to confirm the publication with
	// PUBLISHED or report an error (PUBLISH.Options.acknowledge). If false,
	// DoPublish returns once the message is queued.
	Acknowledge bool
	// ExcludeMe, if not nil, sets PUBLISH.Options.exclude_me
	// (advanced/pubsub_publisher_exclusion.md); false lets the publisher
	// receive its own event. Nil means the broker's default (true).
	ExcludeMe *bool
	// Exclude and Eligible, if not nil, restrict the receivers by session id
	// (PUBLISH.Options.exclude and .eligible,
	// advanced/pubsub_subscriber_blackwhite_listing.md).
	Exclude, Eligible []protocol.ID
	// DiscloseMe asks the broker to tell subscribers the publisher's session
	// id (PUBLISH.Options.disclose_me, advanced/pubsub_publisher_identification.md).
	DiscloseMe bool
	// Retain asks the broker to keep the event as the topic's retained
	// event, sent to later subscribers that ask for it with
	// [SubscribeOptions].GetRetained (PUBLISH.Options.retain,
	// advanced/pubsub_event_retention.md). The broker may decline.
	Retain bool

	// Passthru, if not nil, sends the payload in Payload Passthru Mode
	// (PUBLISH.Options.ppt_*; see [Passthru]). Nil means a normal payload.
	Passthru *Passthru
	// Options holds extra PUBLISH.Options keys, sent as is; the fields above
	// take precedence. Nil means none.
	Options protocol.Dict
}

// DoPublish publishes req. If req.Acknowledge is set it waits for the
// broker (at most Config.ResponseTimeout when ctx has no deadline) and
// returns the publication id, or an error wrapping a *protocol.Error such as
// wamp.error.not_authorized; otherwise it returns 0 once the PUBLISH is
// queued. Like [Client.Publish] it never waits for room in the transport's
// queue: when it is full, DoPublish returns at once an error wrapping
// [transport.ErrQueueFull] and nothing is sent.
func (c *Client) DoPublish(ctx context.Context, req *PublishRequest) (protocol.ID, error) {
	opts := noOptions
	if req.Options != nil || req.Acknowledge || req.ExcludeMe != nil || req.Exclude != nil ||
		req.Eligible != nil || req.DiscloseMe || req.Retain || req.Passthru != nil {
		opts = make(protocol.Dict, len(req.Options)+5)
		if req.Passthru != nil {
			req.Passthru.addTo(opts)
		}
		for k, v := range req.Options {
			opts[k] = v
		}
		if req.Acknowledge {
			opts["acknowledge"] = true
		}
		if req.ExcludeMe != nil {
			opts["exclude_me"] = *req.ExcludeMe
		}
		if req.Exclude != nil {
			opts["exclude"] = idList(req.Exclude)
		}
		if req.Eligible != nil {
			opts["eligible"] = idList(req.Eligible)
		}
		if req.DiscloseMe {
			opts["disclose_me"] = true
		}
		if req.Retain {
			opts["retain"] = true
		}
	}
	msg := &protocol.Publish{Options: opts, Topic: req.Topic, Args: req.Args, Kwargs: req.Kwargs}
	if msg.Kwargs != nil && msg.Args == nil {
		msg.Args = protocol.List{}
	}
	if !req.Acknowledge {
		c.mu.Lock()
		err := c.sendRequestLocked(ctx, nil, msg)
		c.mu.Unlock()
		return 0, err
	}
	m, err := c.request(ctx, newPending(protocol.TypePublish), msg)
	if err != nil {
		return 0, err
	}
	return m.(*protocol.Published).Publication, nil
}

func idList(ids []protocol.ID) []any {
	l := make([]any, len(ids))
	for i, id := range ids {
		l[i] = uint64(id)
	}
	return l
}

// Event is one event delivered to a subscription's handler. It must not be
// modified; the same value may be delivered to several subscriptions.
// Events are allocated in small blocks, so an Event kept after its handler
// returns also keeps a few neighbouring events (and their payloads) from
// being garbage collected; copy the fields you need to keep many events
// for long.
type Event struct {
	// Subscription is the router's subscription id.
	Subscription protocol.ID
	// Publication is the publication id, the same for every subscriber.
	Publication protocol.ID
	// Topic is the topic published to: for a pattern-based subscription the
	// concrete URI from EVENT.Details.topic, else the subscribed topic.
	Topic protocol.URI
	// Publisher is the publisher's session id if disclosed
	// (EVENT.Details.publisher, advanced/pubsub_publisher_identification.md),
	// else 0.
	Publisher protocol.ID
	// Args and Kwargs are the payload.
	Args   protocol.List
	Kwargs protocol.Dict
	// Retained reports an event the broker kept and sent on subscribing
	// (EVENT.Details.retained, advanced/pubsub_event_retention.md), not
	// a new publication.
	Retained bool
	// Details is EVENT.Details as sent by the router ([PassthruOf] reads
	// its ppt_* keys).
	Details protocol.Dict
}

// EventHandler receives the events of one subscription, one at a time and
// in the order the router sent them, on a goroutine of that subscription:
// a slow handler delays only its own subscription's events, never calls,
// invocations or other subscriptions.
type EventHandler func(ev *Event)

// SubscribeOptions are the options of [Client.Subscribe]. A nil
// *SubscribeOptions means all defaults.
type SubscribeOptions struct {
	// Match is the match policy, SUBSCRIBE.Options.match: "" or MatchExact
	// (default), MatchPrefix or MatchWildcard
	// (advanced/pubsub_pattern_based_subscription.md).
	Match protocol.MatchPolicy
	// Queue is the capacity of this subscription's event queue, which
	// holds events the handler has not yet taken. When it is full, new
	// events are dropped and logged. Zero means Config.EventQueue; negative
	// means unbounded.
	Queue int
	// GetRetained asks the broker for the topic's retained event (for a
	// pattern, those of the matching topics), delivered to this
	// Subscription's handler first, with [Event].Retained set
	// (SUBSCRIBE.Options.get_retained, advanced/pubsub_event_retention.md).
	GetRetained bool
	// Options holds extra SUBSCRIBE.Options keys, sent as is; Match and
	// GetRetained take precedence. Nil means none.
	Options protocol.Dict
}

// Subscription is a subscription made by [Client.Subscribe] or
// [Reconnecting.Subscribe]. Each call of Subscribe returns its own
// Subscription with its own handler goroutine, even when the router
// returns the same subscription id for both. A Subscription of a
// Reconnecting client stays the same across its sessions.
type Subscription struct {
	topic   protocol.URI
	handler EventHandler
	options protocol.Dict // SUBSCRIBE.Options
	queue   int           // SubscribeOptions.Queue

	// id is the router's subscription id on the session it is subscribed
	// on, 0 while it is subscribed on none. It is written under that
	// Client's mu.
	id atomic.Uint64
}

// ID returns the subscription id the router assigned, or 0 once the
// subscription is no longer active: after Unsubscribe, after the router
// revoked it or after its session ended, and, for a [Reconnecting]
// client, while it is not (yet) subscribed on the current session.
func (s *Subscription) ID() protocol.ID { return protocol.ID(s.id.Load()) }

// Topic returns the topic (or pattern) subscribed to.
func (s *Subscription) Topic() protocol.URI { return s.topic }

func newSubscription(topic protocol.URI, handler EventHandler, opts *SubscribeOptions) *Subscription {
	if handler == nil {
		panic("client: Subscribe with nil handler")
	}
	s := &Subscription{topic: topic, handler: handler, options: noOptions}
	if opts != nil {
		s.queue = opts.Queue
		if opts.Options != nil || (opts.Match != "" && opts.Match != protocol.MatchExact) || opts.GetRetained {
			s.options = make(protocol.Dict, len(opts.Options)+2)
			for k, v := range opts.Options {
				s.options[k] = v
			}
			if opts.Match != "" && opts.Match != protocol.MatchExact {
				s.options["match"] = string(opts.Match)
			}
			if opts.GetRetained {
				s.options["get_retained"] = true
			}
		}
	}
	return s
}

// subscriber delivers the events of one Subscription on one session: it
// holds the queue and runs the goroutine that calls the handler.
type subscriber struct {
	c   *Client
	sub *Subscription
	id  protocol.ID // the router's subscription id
	max int         // queue capacity; <= 0 unbounded

	// stopped is set by stop, which then wakes run; run checks it before
	// every event and after every wake-up.
	stopped atomic.Bool

	q       eventQueue // the reader pushes, run pops
	dropped uint64     // events dropped for a full queue; reader only
}

// Subscribe subscribes handler to topic (WAMP spec,
// basic/publish_subscribe.md). Events may reach the handler as soon as the
// router confirms, even before Subscribe returns. If the router refuses
// (for example wamp.error.not_authorized) the error wraps a
// *protocol.Error.
// Subscribe waits at most Config.ResponseTimeout when ctx has no deadline.
// If it gives up before the router answers, a late subscription is undone.
func (c *Client) Subscribe(ctx context.Context, topic protocol.URI, handler EventHandler, opts *SubscribeOptions) (*Subscription, error) {
	s := newSubscription(topic, handler, opts)
	if err := c.subscribe(ctx, s); err != nil {
		return nil, err
	}
	return s, nil
}

// subscribe subscribes s on this session.
func (c *Client) subscribe(ctx context.Context, s *Subscription) error {
	max := c.cfg.EventQueue
	if s.queue != 0 {
		max = s.queue
	}
	sb := &subscriber{c: c, sub: s, max: max}
	sb.q.init()
	p := newPending(protocol.TypeSubscribe)
	p.sub = sb
	_, err := c.request(ctx, p, &protocol.Subscribe{Options: s.options, Topic: s.topic})
	return err
}

// subscribed reports whether s is subscribed on this session.
func (c *Client) subscribed(s *Subscription) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.IndexFunc(c.subs[s.ID()], func(sb *subscriber) bool { return sb.sub == s }) >= 0
}

// addSubscriberLocked attaches sb to the router's subscription id and
// starts its goroutine. Only the reader calls it. c.mu must be held.
func (c *Client) addSubscriberLocked(sb *subscriber, id protocol.ID) {
	sb.id = id
	sb.sub.id.Store(uint64(id))
	list := c.subs[id]
	c.subs[id] = append(list[:len(list):len(list)], sb) // copy on write
	c.subsGen.Add(1)
	c.wg.Add(1)
	go sb.run()
}

// Unsubscribe ends s (WAMP spec, basic/publish_subscribe.md). Its handler
// is not called for events that arrive after Unsubscribe is called; queued
// events are dropped, and a handler call in progress may still be running
// when Unsubscribe returns. UNSUBSCRIBE is sent when s was the last
// Subscription of this client on its router subscription id. It returns
// [ErrNotActive] if s was already unsubscribed or revoked, and a
// error wrapping a *protocol.Error if the router refuses.
func (c *Client) Unsubscribe(ctx context.Context, s *Subscription) error {
	ctx, cancel := withTimeout(ctx, c.cfg.ResponseTimeout)
	defer cancel()
	c.mu.Lock()
	if c.state != protocol.StateEstablished {
		err := c.errClosedLocked()
		c.mu.Unlock()
		return err
	}
	id := s.ID()
	list := c.subs[id]
	i := slices.IndexFunc(list, func(sb *subscriber) bool { return sb.sub == s })
	if i < 0 {
		c.mu.Unlock()
		return ErrNotActive
	}
	sb := list[i]
	if len(list) > 1 {
		c.subs[id] = slices.Delete(slices.Clone(list), i, i+1)
		c.subsGen.Add(1)
		s.id.Store(0)
		c.mu.Unlock()
		sb.stop()
		return nil
	}
	p := newPending(protocol.TypeUnsubscribe)
	err := c.unsubscribeLocked(ctx, p, id)
	if err == nil {
		delete(c.subs, id)
		c.subsGen.Add(1)
		s.id.Store(0)
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	sb.stop()
	m, _, err := c.next(ctx, p)
	if err != nil {
		return err
	}
	if e, ok := m.(*protocol.Error); ok {
		return wrap(e, "client: unsubscribe %s", s.topic)
	}
	return nil
}

// revokeSubscription handles UNSUBSCRIBED with request 0: the router ended
// a subscription (advanced/pubsub_subscription_revocation.md).
func (c *Client) revokeSubscription(details protocol.Dict) {
	id := dictID(details, "subscription")
	c.mu.Lock()
	list := c.subs[id]
	delete(c.subs, id)
	c.subsGen.Add(1)
	for _, sb := range list {
		sb.sub.id.CompareAndSwap(uint64(id), 0)
	}
	c.mu.Unlock()
	for _, sb := range list {
		sb.stop()
	}
	c.log.Info("client: router revoked subscription", "session", c.session, "subscription", id,
		"reason", details["reason"])
}

// event queues an EVENT for every Subscription on its id. It never blocks.
func (c *Client) event(m *protocol.Event) {
	list := c.subscribers(m.Subscription)
	if len(list) == 0 {
		// Unsubscribed meanwhile: the router may still have sent some.
		c.log.Debug("client: dropping event for unknown subscription", "session", c.session,
			"subscription", m.Subscription)
		return
	}
	// Field by field into the zeroed Event: cheaper than copying a
	// composite literal in.
	ev := c.newEvent()
	ev.Subscription = m.Subscription
	ev.Publication = m.Publication
	ev.Topic = list[0].sub.topic
	ev.Args = m.Args
	ev.Kwargs = m.Kwargs
	ev.Details = m.Details
	if len(m.Details) > 0 {
		ev.Publisher = dictID(m.Details, "publisher")
		if t := m.Details.String("topic"); t != "" {
			ev.Topic = protocol.URI(t)
		}
		if ev.Retained = m.Details.Bool("retained"); ev.Retained {
			// The router sends retained events right after the
			// SUBSCRIBED of the request that asked for them, and the
			// reader attaches that request's Subscription on SUBSCRIBED:
			// so it is the last one on the id, and the others (which
			// share the router's subscription) did not ask.
			list = list[len(list)-1:]
		}
	}
	for _, sb := range list {
		sb.enqueue(ev)
	}
}

// subscribers returns the Subscriptions on the router's subscription id.
// Only the reader calls it. The reader remembers the last answer until
// c.subs changes, so a stream of events for one id takes no lock.
func (c *Client) subscribers(id protocol.ID) []*subscriber {
	gen := c.subsGen.Load()
	if rc := &c.subsCache; rc.valid && rc.gen == gen && rc.id == id {
		return rc.list
	}
	c.mu.Lock()
	list := c.subs[id]
	gen = c.subsGen.Load() // stable while c.mu is held
	c.mu.Unlock()
	c.subsCache = subsCache{valid: true, gen: gen, id: id, list: list}
	return list
}

// subsCache is the reader's last lookup in Client.subs.
type subsCache struct {
	valid bool
	gen   uint64 // Client.subsGen when list was read
	id    protocol.ID
	list  []*subscriber
}

// eventBlock is the number of Events allocated at once.
const eventBlock = 32

// newEvent returns a zero Event for the reader to fill. Events are
// allocated eventBlock at a time: one allocation per block instead of one
// per EVENT. Only the reader calls it.
func (c *Client) newEvent() *Event {
	if len(c.events) == 0 {
		c.events = make([]Event, eventBlock)
	}
	ev := &c.events[0]
	c.events = c.events[1:]
	return ev
}

func (sb *subscriber) enqueue(ev *Event) {
	if sb.q.push(ev, sb.max) {
		return
	}
	sb.dropped++
	if n := sb.dropped; n == 1 || n%1024 == 0 {
		sb.c.log.Warn("client: subscription queue full; dropping events", "session", sb.c.session,
			"subscription", sb.id, "topic", sb.sub.topic, "dropped", n)
	}
}

// stop ends the subscription's goroutine after the handler call in
// progress; queued events are dropped. Safe to call more than once.
func (sb *subscriber) stop() {
	if sb.stopped.Swap(true) {
		return
	}
	// A token makes a parked run look at stopped. If the buffer is full,
	// run has a token coming anyway.
	select {
	case sb.q.wake <- struct{}{}:
	default:
	}
}

// run delivers queued events to the handler, in order. It drains the queue
// before it parks, so a burst of events costs one wake-up.
func (sb *subscriber) run() {
	defer sb.c.wg.Done()
	for {
		ev := sb.q.pop()
		if ev == nil {
			if sb.q.park() {
				<-sb.q.wake
			}
			if sb.stopped.Load() {
				return
			}
			continue
		}
		if sb.stopped.Load() {
			return
		}
		sb.deliver(ev)
	}
}

// deliver calls the handler, logging a panic instead of crashing.
func (sb *subscriber) deliver(ev *Event) {
	defer func() {
		if v := recover(); v != nil {
			sb.c.log.Error("client: event handler panicked", "session", sb.c.session,
				"topic", ev.Topic, "panic", v, "stack", string(debug.Stack()))
		}
	}()
	sb.sub.handler(ev)
}
