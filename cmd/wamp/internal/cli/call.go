package cli

import (
	"github.com/spf13/cobra"
	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
)

// payloadFlags are the -k and --string flags of the commands that send a
// payload.
type payloadFlags struct {
	kwargs  []string
	literal bool
}

func (p *payloadFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVarP(&p.kwargs, "kwarg", "k", nil, "keyword argument `name=value` (repeatable)")
	cmd.Flags().BoolVarP(&p.literal, "string", "s", false, "send every argument and -k value as a string, as written")
}

// parse returns the payload of the words (after the URI) and -k flags.
func (p *payloadFlags) parse(words []string) (protocol.List, protocol.Dict, error) {
	kw, err := parseKwargs(p.kwargs, p.literal)
	if err != nil {
		return nil, nil, err
	}
	args, err := parseArgs(words, p.literal)
	return args, kw, err
}

// checkURI returns a usage error if u is not a valid URI under match
// (WAMP spec, basic "URIs"), before anything is sent.
func checkURI(what string, u protocol.URI, match protocol.MatchPolicy) error {
	if !match.Valid() {
		return usageErrorf("--match %q: want exact, prefix or wildcard", match)
	}
	if err := protocol.CheckPattern(u, match, false); err != nil {
		return usageErrorf("%s %q: %v", what, u, err)
	}
	return nil
}

// resultLine is how call prints a result.
type resultLine struct {
	Progress bool `json:"progress,omitempty"`
	Args     any  `json:"args"`
	Kwargs   any  `json:"kwargs"`
}

func (a *app) printResult(r *client.Result, progress bool) error {
	args, kwargs := payload(r.Args, r.Kwargs)
	return a.printLine(resultLine{Progress: progress, Args: toJSON(args), Kwargs: toJSON(kwargs)})
}

func (a *app) callCommand() *cobra.Command {
	var (
		p          payloadFlags
		progress   bool
		discloseMe bool
	)
	cmd := &cobra.Command{
		Use:   "call PROCEDURE [ARG...] [-k NAME=VALUE...]",
		Short: "Call a procedure and print its result",
		Long: `Call PROCEDURE with the arguments and print the result on standard output
as one line of JSON, {"args":[...],"kwargs":{...}}. With --progress each
progressive result is printed first, as {"progress":true,"args":...}.

An ERROR answer exits with status 1 and prints its URI, args and kwargs on
standard error. --timeout bounds the wait for the result.`,
		Example: `  wamp call com.example.add 2 3
  wamp call com.example.greet -k name=Alice -k polite=true
  wamp call com.example.echo --string 007 true`,
		Args: minArgs(1, "PROCEDURE"),
		RunE: func(cmd *cobra.Command, words []string) error {
			proc := protocol.URI(words[0])
			if err := checkURI("procedure", proc, protocol.MatchExact); err != nil {
				return err
			}
			args, kwargs, err := p.parse(words[1:])
			if err != nil {
				return err
			}
			c, err := a.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := a.g.withTimeout(cmd.Context())
			defer cancel()
			req := &client.CallRequest{Procedure: proc, Args: args, Kwargs: kwargs, DiscloseMe: discloseMe}
			if progress {
				req.OnProgress = func(r *client.Result) error { return a.printResult(r, true) }
			}
			res, err := c.Do(ctx, req)
			if err != nil {
				return classify(err)
			}
			return a.printResult(res, false)
		},
	}
	p.add(cmd)
	cmd.Flags().BoolVar(&progress, "progress", false, "ask for progressive results and print each of them")
	cmd.Flags().BoolVar(&discloseMe, "disclose-me", false, "ask the router to tell the callee who calls")
	return cmd
}

func (a *app) publishCommand() *cobra.Command {
	var (
		p                          payloadFlags
		ack, excludeMe, retain, dm bool
	)
	cmd := &cobra.Command{
		Use:   "publish TOPIC [ARG...] [-k NAME=VALUE...]",
		Short: "Publish an event to a topic",
		Long: `Publish an event with the arguments to TOPIC.

Without --acknowledge, wamp returns once the event is sent and prints
nothing. With it, the router confirms the publication and wamp prints
{"publication":ID}, or the router's ERROR (exit status 1), for example
wamp.error.not_authorized.`,
		Example: `  wamp publish com.example.news "hello world"
  wamp publish com.example.temp 21.5 -k unit=C --acknowledge --retain`,
		Args: minArgs(1, "TOPIC"),
		RunE: func(cmd *cobra.Command, words []string) error {
			topic := protocol.URI(words[0])
			if err := checkURI("topic", topic, protocol.MatchExact); err != nil {
				return err
			}
			args, kwargs, err := p.parse(words[1:])
			if err != nil {
				return err
			}
			req := &client.PublishRequest{Topic: topic, Args: args, Kwargs: kwargs, Acknowledge: ack, Retain: retain, DiscloseMe: dm}
			if cmd.Flags().Changed("exclude-me") {
				req.ExcludeMe = &excludeMe
			}
			c, err := a.dial(cmd.Context())
			if err != nil {
				return err
			}
			ctx, cancel := a.g.withTimeout(cmd.Context())
			defer cancel()
			id, err := c.DoPublish(ctx, req)
			if err != nil {
				c.Close()
				return classify(err)
			}
			// Close says GOODBYE after the PUBLISH and waits for the
			// router's answer, so the event has been handled by then.
			if err := c.Close(); err != nil {
				return classify(err)
			}
			if ack {
				return a.printLine(map[string]any{"publication": uint64(id)})
			}
			return nil
		},
	}
	p.add(cmd)
	cmd.Flags().BoolVar(&ack, "acknowledge", false, "wait for the router to confirm, print the publication ID")
	cmd.Flags().BoolVar(&excludeMe, "exclude-me", true, "leave this session out of the receivers (false: receive the own event)")
	cmd.Flags().BoolVar(&retain, "retain", false, "ask the router to keep the event for later subscribers (event retention)")
	cmd.Flags().BoolVar(&dm, "disclose-me", false, "ask the router to tell the subscribers who publishes")
	return cmd
}
