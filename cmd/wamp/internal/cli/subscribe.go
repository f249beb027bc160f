package cli

import (
	"sync"

	"github.com/spf13/cobra"
	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
)

// eventLine is how subscribe prints an event.
type eventLine struct {
	Topic       string `json:"topic"`
	Publication uint64 `json:"publication"`
	Args        any    `json:"args"`
	Kwargs      any    `json:"kwargs"`
	Details     any    `json:"details"`
}

// DefaultEventQueue is the default of subscribe --queue.
const DefaultEventQueue = 100_000

// stopper is closed once, by whichever goroutine decides the command is
// done, and remembers why.
type stopper struct {
	once sync.Once
	done chan struct{}
	err  error // written before done is closed
}

func newStopper() *stopper { return &stopper{done: make(chan struct{})} }

func (s *stopper) stop(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.done)
	})
}

// wait blocks until the command should end: s is stopped (its error), ctx
// ends (a signal: nil), or the session ends (its reason).
func (a *app) wait(cmd *cobra.Command, c *client.Client, s *stopper) error {
	select {
	case <-s.done:
		return s.err
	case <-cmd.Context().Done():
		return nil
	case <-c.Done():
		return sessionEnded(c)
	}
}

func (a *app) subscribeCommand() *cobra.Command {
	var (
		match    string
		count    int64
		retained bool
		queue    int
	)
	cmd := &cobra.Command{
		Use:   "subscribe TOPIC",
		Short: "Subscribe to a topic and print its events",
		Long: `Subscribe to TOPIC and print each event on standard output as one line of
JSON: {"topic":...,"publication":ID,"args":[...],"kwargs":{...},"details":{...}}.
topic is the event's own topic (it differs from TOPIC with --match
prefix or wildcard). wamp runs until it is interrupted (exit status 0),
--count events have been printed, or the router ends the session.

Events wait in a queue of --queue events while standard output is slow;
when it is full further events are dropped (and logged on standard
error) rather than use more memory.`,
		Example: `  wamp subscribe com.example.news
  wamp subscribe com.example. --match prefix --count 10
  wamp subscribe com..status --match wildcard | jq .args`,
		Args: rangeArgs(1, 1, "TOPIC"),
		RunE: func(cmd *cobra.Command, words []string) error {
			topic := protocol.URI(words[0])
			if err := checkURI("topic", topic, protocol.MatchPolicy(match)); err != nil {
				return err
			}
			if count < 0 || queue < 0 {
				return usageErrorf("--count and --queue: want 0 (no limit) or more")
			}
			c, err := a.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			s := newStopper()
			var n int64 // events printed; the subscription's goroutine only
			handler := func(ev *client.Event) {
				if count > 0 && n >= count {
					return
				}
				n++
				args, kwargs := payload(ev.Args, ev.Kwargs)
				details := ev.Details
				if details == nil {
					details = protocol.Dict{}
				}
				err := a.printLine(eventLine{Topic: string(ev.Topic), Publication: uint64(ev.Publication),
					Args: toJSON(args), Kwargs: toJSON(kwargs), Details: toJSON(details)})
				if err != nil {
					s.stop(err)
				} else if count > 0 && n == count {
					s.stop(nil)
				}
			}
			q := queue
			if q == 0 {
				q = -1 // unbounded
			}
			ctx, cancel := a.g.withTimeout(cmd.Context())
			sub, err := c.Subscribe(ctx, topic, handler, &client.SubscribeOptions{
				Match: protocol.MatchPolicy(match), GetRetained: retained, Queue: q})
			cancel()
			if err != nil {
				return classify(err)
			}
			a.infof("subscribed to %s (subscription %d); interrupt to stop", topic, sub.ID())
			return a.wait(cmd, c, s)
		},
	}
	cmd.Flags().StringVar(&match, "match", "exact", "match policy: exact, prefix or wildcard")
	cmd.Flags().Int64Var(&count, "count", 0, "exit after `N` events (0: run until interrupted)")
	cmd.Flags().BoolVar(&retained, "retained", false, "first receive the retained event of the topic, if any")
	cmd.Flags().IntVar(&queue, "queue", DefaultEventQueue, "most events waiting to be printed (0: no limit)")
	return cmd
}
