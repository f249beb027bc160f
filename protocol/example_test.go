package protocol_test

import (
	"errors"
	"fmt"
	"sort"

	"github.com/wampkit/wampkit/protocol"
)

func ExampleFromList() {
	// A CALL as a JSON or MessagePack decoder hands it over.
	l := protocol.List{48, 7814135, map[string]any{}, "com.myapp.add2", []any{23, 7}}
	m, err := protocol.FromList(l)
	if err != nil {
		fmt.Println(err)
		return
	}
	call := m.(*protocol.Call)
	fmt.Println(call.Type(), call.Request, call.Procedure, call.Args)

	// A malformed one: the error names the message and the field.
	_, err = protocol.FromList(protocol.List{48, 0, map[string]any{}, "com.myapp.add2"})
	fmt.Println(err)
	fmt.Println(errors.Is(err, protocol.ErrMalformed))
	// Output:
	// CALL 7814135 com.myapp.add2 [23 7]
	// protocol: CALL: Request: ID 0 out of range [1, 2^53]
	// true
}

func ExampleToList() {
	l, err := protocol.ToList(&protocol.Result{Request: 7814135, Kwargs: protocol.Dict{"sum": 30}})
	fmt.Println(l, err)
	// Output:
	// [50 7814135 map[] [] map[sum:30]] <nil>
}

func ExampleCheckURI() {
	for _, u := range []protocol.URI{"com.myapp.topic1", "com.myapp.Topic-1", "com..topic", "com.my topic"} {
		fmt.Printf("%-20q loose: %v\n", u, protocol.CheckURI(u, false))
		fmt.Printf("%-20q strict: %v\n", u, protocol.CheckURI(u, true))
	}
	fmt.Println(protocol.CheckPattern("com.myapp..update", protocol.MatchWildcard, true))
	// Output:
	// "com.myapp.topic1"   loose: <nil>
	// "com.myapp.topic1"   strict: <nil>
	// "com.myapp.Topic-1"  loose: <nil>
	// "com.myapp.Topic-1"  strict: protocol: invalid URI "com.myapp.Topic-1": character 'T' not allowed by the strict rules
	// "com..topic"         loose: protocol: invalid URI "com..topic": empty component
	// "com..topic"         strict: protocol: invalid URI "com..topic": empty component
	// "com.my topic"       loose: protocol: invalid URI "com.my topic": white space
	// "com.my topic"       strict: protocol: invalid URI "com.my topic": character ' ' not allowed by the strict rules
	// <nil>
}

func ExampleMatchURI() {
	fmt.Println(protocol.MatchURI("com.myapp.myobject1", protocol.MatchPrefix, "com.myapp.myobject1-mysubobject1"))
	fmt.Println(protocol.MatchURI("com.myapp..myprocedure1", protocol.MatchWildcard, "com.myapp.myobject2.myprocedure1"))
	fmt.Println(protocol.MatchURI("com.myapp..myprocedure1", protocol.MatchWildcard, "com.myapp.myobject1.myprocedure2"))
	// Output:
	// true
	// true
	// false
}

func ExampleParseRoles() {
	// WELCOME.Details of a router, with the spec's alternative spelling
	// "call_cancelling".
	details := protocol.Dict{
		"roles": map[string]any{
			"broker": map[string]any{"features": map[string]any{"publisher_exclusion": true}},
			"dealer": map[string]any{"features": map[string]any{"call_cancelling": true, "progressive_call_results": true}},
		},
	}
	roles, err := protocol.ParseRoles(details)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(roles.Has(protocol.RoleDealer), roles.Has(protocol.RoleCallee))
	fmt.Println(roles.Supports(protocol.RoleDealer, protocol.FeatureCallCanceling))
	fmt.Println(roles.Supports(protocol.RoleBroker, protocol.FeaturePatternBasedSubscription))

	// Announce the client's own roles in HELLO.
	hello := protocol.Roles{
		protocol.RoleCaller: {protocol.FeatureCallCanceling: true},
		protocol.RoleCallee: nil,
	}.Dict()
	keys := make([]string, 0, len(hello))
	for k := range hello {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Println(k, hello[k])
	}
	// Output:
	// true false
	// true
	// false
	// callee map[]
	// caller map[features:map[call_canceling:true]]
}

func ExampleReceive() {
	// A router that has sent GOODBYE ignores everything but the echo.
	next, action := protocol.Receive(protocol.SideRouter, protocol.StateShuttingDown, protocol.TypeCall)
	fmt.Println(next, action)
	next, action = protocol.Receive(protocol.SideRouter, protocol.StateShuttingDown, protocol.TypeGoodbye)
	fmt.Println(next, action)
	// A second HELLO is a protocol violation.
	next, action = protocol.Receive(protocol.SideRouter, protocol.StateEstablished, protocol.TypeHello)
	fmt.Println(next, action, protocol.Allowed(protocol.SideRouter, protocol.StateEstablished, protocol.TypeHello))
	// Output:
	// shutting down ignore
	// closed process
	// failed violation false
}

func ExampleSessionIDs() {
	var ids protocol.SessionIDs // the zero value starts at 1
	fmt.Println(ids.Next(), ids.Next(), ids.Next())
	fmt.Println(protocol.NextID(protocol.MaxID))
	// Output:
	// 1 2 3
	// 1
}
