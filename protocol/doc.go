// Package protocol holds the WAMP vocabulary shared by every other package
// of wampkit: message types and their wire lists, IDs, URIs, roles and
// features, and the session state machine.
package protocol
