package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/wampkit/wampkit/client"
)

// fanoutTopic is the topic of the fanout scenario.
const fanoutTopic = "com.load.fan"

// fanoutWindow is how many events the publisher sends before it waits for
// every subscriber to have received them: enough to keep the routers
// busy, few enough that no queue on the way fills up (a full client
// queue would drop events, and the run would stop with an error).
const fanoutWindow = 10

// fanout subscribes o.subscribers sessions to one topic, subscriber i on
// node i mod the number of nodes, and has a publisher on the first node
// publish o.events events in windows of fanoutWindow, each window
// delivered to every subscriber before the next is published. It
// reports the routers' CPU time per delivered event (and the NATS
// server's, if any), their context switches per delivered event, and
// deliveries per second. Every subscriber must receive every event
// exactly once: a missing event stops the run with an error.
func fanout(ctx context.Context, c *cluster, o options) (figures, error) {
	if o.subscribers < 1 || o.events < 1 {
		return nil, fmt.Errorf("fanout needs -subscribers and -events of at least 1")
	}
	var delivered atomic.Int64 // events received, by all subscribers
	var target atomic.Int64    // delivered value that completes the window
	done := make(chan struct{}, 1)
	got := make([]atomic.Int64, o.subscribers)
	for i := range o.subscribers {
		s, err := dialClient(ctx, c.nodes[i%len(c.nodes)], o)
		if err != nil {
			return nil, err
		}
		defer s.Close()
		_, err = s.Subscribe(ctx, fanoutTopic, func(*client.Event) {
			got[i].Add(1)
			if delivered.Add(1) == target.Load() {
				select {
				case done <- struct{}{}:
				default:
				}
			}
		}, &client.SubscribeOptions{Queue: 4 * fanoutWindow})
		if err != nil {
			return nil, err
		}
	}
	pub, err := dialClient(ctx, c.nodes[0], o)
	if err != nil {
		return nil, err
	}
	defer pub.Close()
	published := int64(0)
	// window publishes n events and waits until every subscriber has
	// them.
	window := func(n int) error {
		published += int64(n)
		target.Store(published * int64(o.subscribers))
		for range n {
			if err := pub.Publish(ctx, fanoutTopic, "hello"); err != nil {
				return err
			}
		}
		t := time.NewTimer(30 * time.Second)
		defer t.Stop()
		for delivered.Load() < target.Load() {
			select {
			case <-done:
			case <-t.C:
				return fmt.Errorf("%d of %d deliveries after 30 s: events lost", delivered.Load(), target.Load())
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	// Another node learns of a subscription a moment after SUBSCRIBED
	// when nodes have different NATS servers; here they share one, but
	// the first window waits as long as it takes all the same.
	if err := window(1); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	for range 10 {
		if err := window(fanoutWindow); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	d0 := delivered.Load()
	t0 := time.Now()
	cpu0, nats0, sw0 := c.cpu(), c.natsCPU(), c.switches()
	for sent := 0; sent < o.events; sent += fanoutWindow {
		if err := window(min(fanoutWindow, o.events-sent)); err != nil {
			return nil, err
		}
	}
	cpu, natsCPU, sw := c.cpu()-cpu0, c.natsCPU()-nats0, c.switches()-sw0
	elapsed := time.Since(t0)
	n := float64(delivered.Load() - d0)
	for i := range got {
		if g := got[i].Load(); g != published {
			return nil, fmt.Errorf("subscriber %d got %d events, want %d", i, g, published)
		}
	}
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	return figures{
		{"router-cpu", "µs/delivery", us(cpu) / n},
		{"nats-cpu", "µs/delivery", us(natsCPU) / n},
		{"switches", "/delivery", sw / n},
		{"rate", "deliveries/s", n / elapsed.Seconds()},
	}, nil
}
