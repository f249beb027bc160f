// Package protocol holds the WAMP vocabulary shared by every other package
// of wampkit: the 24 message types and their wire lists, IDs, URIs and URI
// patterns, roles and features, and the session state machine. It imports
// nothing else of wampkit; serializers, transports, the router and the
// client all speak in its types.
//
// References are to the WAMP specification (draft-oberstet-hybi-crossbar-wamp,
// Basic Profile "basic/..." and Advanced Profile "advanced/...").
//
// # Messages
//
// Every message is a pointer to one struct per message type ([Hello],
// [Welcome], ..., [Yield]); each implements [Message]. On the wire a
// message is a list whose first element is the type code (basic
// messages.md, "Message Definitions"). [FromList] turns a decoded list
// into a message and validates it fully; [ToList] does the reverse for a
// serializer; [Validate] checks a message built in Go:
//
//	m, err := protocol.FromList(protocol.List{48, 7, map[string]any{}, "com.example.add", []any{2, 3}})
//	if errors.Is(err, protocol.ErrMalformed) {
//		// answer with ABORT wamp.error.protocol_violation
//	}
//	call := m.(*protocol.Call) // call.Procedure == "com.example.add"
//
// Validation errors are *[MessageError] values naming the message and the
// field at fault. Integers may arrive as any Go integer kind or as an
// integral float64 (JavaScript MessagePack encoders send big integers as
// doubles); see [ToInt64] and [ToID]. [Dict] has nil-safe accessors for
// Details and Options ([Dict.Bool], [Dict.String], [Dict.Int], [Dict.ID],
// [Dict.Dict], [Dict.List]).
//
// A message handed to a transport must not be modified afterwards: the
// in-process link passes it on without copying. FromList takes ownership of
// the list it is given (nested map[any]any values are replaced in place by
// map[string]any), and the message shares the list's payload.
//
// # Wire layout
//
// The layout of every message type's list is written once, in one table:
// a row per type names the struct fields that make up the list, in order,
// and what each one is (an ID, a URI, a dict, optional Arguments, ...).
// FromList, ToList, Validate, [ValidateReceived] and [MessageType.String]
// are derived from it, and so are the codecs of the serialize package:
// [LayoutOf] describes a type's list ([Layout.Len] elements after the type
// code, the first [Layout.Min] of them required, each a [Field] of a
// [Kind]), [ElementsOf] hands an encoder the elements of a validated
// message, and [Layout.New] gives a decoder a new message to fill, checked
// by [Elements.Message]:
//
//	e, err := protocol.ElementsOf(m)
//	if err != nil {
//		return err // a *MessageError: nothing invalid is sent
//	}
//	for i := range e.Len() {
//		switch e.Layout().Field(i).Kind {
//		case protocol.KindInt:
//			writeUint(e.Int(i))
//		case protocol.KindString:
//			writeString(e.String(i))
//		// ... KindDict, KindList
//		}
//	}
//
// A new message type is therefore its struct (with its Type method and type
// code) and its row in the table; the test TestNewMessageType adds one and
// sends it through FromList, ToList and the three serializers. Which side
// may send it in which session state is for the state machine (see
// "Session state").
//
// # Decisions where the spec leaves room
//
//   - ERROR may answer SUBSCRIBE, UNSUBSCRIBE, PUBLISH, REGISTER, UNREGISTER,
//     CALL and INVOCATION only; the spec never answers CANCEL with ERROR.
//   - UNSUBSCRIBED and UNREGISTERED accept an optional Details dict with any
//     Request (0 in the revocation form); the two-element form needs an ID.
//   - SUBSCRIBE and REGISTER with an unknown Options.match are accepted (their
//     URI checked by the wildcard rules) so that the router can answer with an
//     ERROR instead of aborting the session.
//   - Autobahn's pre-standard "transparent payload" form, a binary in place of
//     the Arguments list, is malformed here; the spec's Payload Passthru Mode
//     (one binary inside Arguments) is ordinary payload.
//   - UNSUBSCRIBE with a trailing Options dict (used by Autobahn between
//     routers) is malformed: the spec defines none.
//   - Empty URIs are invalid everywhere, wildcard patterns included.
//
// # IDs
//
// IDs are integers in [1, 2^53] (basic "IDs"). [GlobalID] draws the random
// global-scope IDs (sessions, publications); [RouterIDs] counts
// router-scope IDs (subscriptions, registrations); [SessionIDs] counts
// session-scope request IDs 1, 2, 3, ..., wrapping to 1 after 2^53, and
// [NextID] tells which request ID must follow another.
//
// # URIs
//
// [CheckURI] checks the loose or strict URI rules (basic "URIs");
// [CheckPattern] checks subscription and registration patterns under a
// [MatchPolicy], and [MatchURI] tells whether a concrete URI matches a
// pattern (advanced "Pattern-based Subscription", "Pattern-based
// Registration"). Prefix matching is a plain string prefix, as in the
// spec's example where "com.myapp.myobject1" matches
// "com.myapp.myobject1-mysubobject1"; wildcard patterns have empty
// components that match exactly one component. [IsReserved] recognizes the
// spec-owned "wamp." namespace.
//
// # Roles and features
//
// Peers announce roles and Advanced Profile features in
// HELLO.Details.roles and WELCOME.Details.roles (basic "Session
// Establishment"; advanced "Feature Announcement"). [ParseRoles] reads
// them into [Roles], [Roles.Dict] writes them, and [Roles.Supports] asks
// whether a role has a [Feature]. The spec's alternative spellings
// "call_cancelling" and "shareded_subscriptions" are accepted on input and
// never written.
//
// # Session state
//
// [State] is the session state of one side ([SideRouter] or [SideClient])
// as in the state chart of basic "Session Lifecycle". [Receive] gives the
// state after receiving a message and whether to process it, ignore it,
// or treat it as a protocol violation (basic "Protocol Errors");
// [Allowed] is its yes/no form, and [ReceiveMessage] also checks which
// side may receive an ERROR for which request. The router and the client
// both drive their sessions through these functions, so a violation is
// detected in one place and answered the same way: ABORT with
// [ErrProtocolViolation]. Each side sets its own state when it sends
// (HELLO, CHALLENGE, WELCOME, GOODBYE, ABORT).
//
// # Concurrency
//
// All functions are safe for concurrent use. [RouterIDs.Next] and
// [SessionIDs.Next] may be called concurrently on one generator. Messages,
// [Dict] and [List] values are not synchronized: share them read-only.
package protocol
