package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/wampkit/wampkit/client"
	"github.com/wampkit/wampkit/protocol"
)

// Session meta procedures (WAMP spec, advanced "Session Meta API").
const (
	metaSessionList protocol.URI = "wamp.session.list"
	metaSessionGet  protocol.URI = "wamp.session.get"
)

func (a *app) sessionsCommand() *cobra.Command {
	var (
		asJSON bool
		roles  []string
	)
	cmd := &cobra.Command{
		Use:   "sessions",
		Short: "List the sessions of the realm",
		Long: `List the sessions joined to the realm, this one included, through the
session meta API: wamp.session.list, then wamp.session.get of each.

The table shows each session's ID, authid, authrole, authmethod and
transport (type, serializer and peer address, where the router shows
them: wampd hides transports in a realm without permissions); this
session is marked with "*". --json prints the wamp.session.get answer of
each session as one line of JSON instead. The router may refuse the meta
API (ERROR wamp.error.not_authorized, exit status 1).`,
		Example: `  wamp sessions
  wamp sessions --authrole backend --json | jq -r .authid`,
		Args: rangeArgs(0, 0, ""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.dial(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, cancel := a.g.withTimeout(cmd.Context())
			defer cancel()
			sessions, err := listSessions(ctx, c, roles)
			if err != nil {
				return classify(err)
			}
			if asJSON {
				for _, s := range sessions {
					if err := a.printLine(s); err != nil {
						return err
					}
				}
				return nil
			}
			return a.printSessionTable(sessions, c.SessionID())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per session instead of a table")
	cmd.Flags().StringArrayVar(&roles, "authrole", nil, "only sessions of this `authrole` (repeatable)")
	return cmd
}

// listSessions returns the wamp.session.get answers of the realm's
// sessions (of roles, if not empty), in the order of wamp.session.list.
// A session that leaves between the two calls is left out.
func listSessions(ctx context.Context, c *client.Client, roles []string) ([]protocol.Dict, error) {
	var args []any
	if len(roles) > 0 {
		filter := make([]any, len(roles))
		for i, r := range roles {
			filter[i] = r
		}
		args = append(args, filter)
	}
	res, err := c.Call(ctx, metaSessionList, args...)
	if err != nil {
		return nil, err
	}
	if len(res.Args) == 0 {
		return nil, fmt.Errorf("%s answered no list", metaSessionList)
	}
	ids, ok := res.Args[0].([]any)
	if !ok {
		return nil, fmt.Errorf("%s answered %s, not a list", metaSessionList, compact(res.Args[0]))
	}
	sessions := make([]protocol.Dict, 0, len(ids))
	for _, id := range ids {
		res, err := c.Call(ctx, metaSessionGet, id)
		var werr *protocol.Error
		if errors.As(err, &werr) && werr.URI == protocol.ErrNoSuchSession {
			continue
		}
		if err != nil {
			return nil, err
		}
		if len(res.Args) == 0 {
			return nil, fmt.Errorf("%s answered nothing for session %v", metaSessionGet, id)
		}
		d, ok := protocol.ToDict(res.Args[0])
		if !ok {
			return nil, fmt.Errorf("%s answered %s, not a dict", metaSessionGet, compact(res.Args[0]))
		}
		sessions = append(sessions, d)
	}
	return sessions, nil
}

// printSessionTable prints sessions as a table; own is marked.
func (a *app) printSessionTable(sessions []protocol.Dict, own protocol.ID) error {
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION\tAUTHID\tAUTHROLE\tAUTHMETHOD\tTRANSPORT")
	for _, s := range sessions {
		id, _ := s.ID("session")
		mark := ""
		if id == own {
			mark = " *"
		}
		fmt.Fprintf(tw, "%d%s\t%s\t%s\t%s\t%s\n", uint64(id), mark, orDash(s.String("authid")), orDash(s.String("authrole")),
			orDash(s.String("authmethod")), transportSummary(s.Dict("transport")))
	}
	err := tw.Flush()
	if err == nil {
		_, err = fmt.Fprintf(a.stdout, "%d sessions\n", len(sessions))
	}
	if err != nil {
		return &exitError{code: ExitFailure, err: fmt.Errorf("write output: %w", err)}
	}
	return nil
}

// transportSummary returns "type/serializer peer" of a session's transport
// details, or "-" when the router does not show them.
func transportSummary(t protocol.Dict) string {
	if len(t) == 0 {
		return "-"
	}
	s := t.String("type")
	if ser := t.String("serializer"); ser != "" {
		s += "/" + ser
	}
	if p := t.String("peer"); p != "" {
		s += " " + p
	}
	if s == "" {
		return compact(t)
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
