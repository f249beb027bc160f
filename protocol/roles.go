package protocol

// Role is a WAMP role announced in HELLO.Details.roles (client roles) or
// WELCOME.Details.roles (router roles) (spec basic "Session Establishment",
// "Client: Role and Feature Announcement").
type Role string

// The client roles (publisher, subscriber, caller, callee) and router roles
// (broker, dealer).
const (
	RolePublisher  Role = "publisher"
	RoleSubscriber Role = "subscriber"
	RoleCaller     Role = "caller"
	RoleCallee     Role = "callee"
	RoleBroker     Role = "broker"
	RoleDealer     Role = "dealer"
)

// Client reports whether r is one of the four client roles.
func (r Role) Client() bool {
	return r == RolePublisher || r == RoleSubscriber || r == RoleCaller || r == RoleCallee
}

// Router reports whether r is broker or dealer.
func (r Role) Router() bool { return r == RoleBroker || r == RoleDealer }

// Feature is an Advanced Profile feature flag, announced as
// roles.<role>.features.<feature> = true (spec advanced "Feature
// Announcement" and each feature's section).
type Feature string

// Feature flags of the Advanced Profile, with the spec section that
// defines each.
const (
	// RPC (spec advanced "Remote Procedure Calls").
	FeatureProgressiveCallResults     Feature = "progressive_call_results"     // Progressive Call Results
	FeatureProgressiveCallInvocations Feature = "progressive_call_invocations" // Progressive Call Invocations
	FeatureCallTimeout                Feature = "call_timeout"                 // Call Timeouts
	FeatureCallCanceling              Feature = "call_canceling"               // Call Canceling; "call_cancelling" is accepted on input
	FeatureCallerIdentification       Feature = "caller_identification"        // Caller Identification
	FeatureCallTrustLevels            Feature = "call_trustlevels"             // Call Trust Levels
	FeaturePatternBasedRegistration   Feature = "pattern_based_registration"   // Pattern-based Registration
	FeatureSharedRegistration         Feature = "shared_registration"          // Shared Registration
	FeatureShardedRegistration        Feature = "sharded_registration"         // Sharded Registration
	FeatureRegistrationRevocation     Feature = "registration_revocation"      // Registration Revocation
	FeatureCallReroute                Feature = "call_reroute"                 // Call Re-Routing

	// PubSub (spec advanced "Publish & Subscribe").
	FeatureSubscriberBlackWhiteListing Feature = "subscriber_blackwhite_listing" // Subscriber Black- and Whitelisting
	FeaturePublisherExclusion          Feature = "publisher_exclusion"           // Publisher Exclusion
	FeaturePublisherIdentification     Feature = "publisher_identification"      // Publisher Identification
	FeaturePublicationTrustLevels      Feature = "publication_trustlevels"       // Publication Trust Levels
	FeaturePatternBasedSubscription    Feature = "pattern_based_subscription"    // Pattern-based Subscription
	FeatureShardedSubscription         Feature = "sharded_subscription"          // Sharded Subscription; the spec's "shareded_subscriptions" is accepted on input
	FeatureEventHistory                Feature = "event_history"                 // Event History
	FeatureEventRetention              Feature = "event_retention"               // Event Retention
	FeatureSubscriptionRevocation      Feature = "subscription_revocation"       // Subscription Revocation

	// Meta API and others.
	FeatureSessionMetaAPI      Feature = "session_meta_api"      // Session Meta API (announced on broker AND dealer)
	FeatureRegistrationMetaAPI Feature = "registration_meta_api" // Registration Meta API
	FeatureSubscriptionMetaAPI Feature = "subscription_meta_api" // Subscription Meta API
	FeatureTestamentMetaAPI    Feature = "testament_meta_api"    // Session Testament
	FeaturePayloadPassthruMode Feature = "payload_passthru_mode" // Payload Passthru Mode
)

// featureAliases maps spellings found in the spec text to the canonical
// flag: the progressive-call-invocations section writes
// "call_cancelling", the sharded-subscription section "shareded_subscriptions".
var featureAliases = map[Feature]Feature{
	"call_cancelling":        FeatureCallCanceling,
	"shareded_subscriptions": FeatureShardedSubscription,
}

// Canonical returns the canonical spelling of f ("call_cancelling" becomes
// [FeatureCallCanceling]); other flags are returned unchanged.
func (f Feature) Canonical() Feature {
	if c, ok := featureAliases[f]; ok {
		return c
	}
	return f
}

// Features is the feature set of one role: flag -> announced value.
// Only flags with the value true count as supported.
type Features map[Feature]bool

// Roles is a peer's role announcement: for each announced role, its
// features (an empty or nil Features for a Basic Profile role).
type Roles map[Role]Features

// Has reports whether the role was announced. It is safe on a nil Roles.
func (r Roles) Has(role Role) bool {
	_, ok := r[role]
	return ok
}

// Supports reports whether role was announced with feature f set to true.
// Alias spellings are accepted for f and in r: Supports(RoleDealer,
// "call_cancelling") and Supports(RoleDealer, FeatureCallCanceling) are
// the same question. It is safe on a nil Roles.
func (r Roles) Supports(role Role, f Feature) bool {
	fs := r[role]
	if fs == nil {
		return false
	}
	f = f.Canonical()
	if fs[f] {
		return true
	}
	for a, c := range featureAliases {
		if c == f && fs[a] {
			return true
		}
	}
	return false
}

// Dict returns the announcement as it goes into HELLO.Details["roles"] or
// WELCOME.Details["roles"]: {"broker": {"features": {"flag": true, ...}}}.
// A role without features becomes {} (Basic Profile). Alias spellings are
// written in their canonical form, and flags whose value is false are left
// out. The nested maps are map[string]any.
func (r Roles) Dict() Dict {
	d := make(Dict, len(r))
	for role, fs := range r {
		rd := map[string]any{}
		var fd map[string]any
		for f, on := range fs {
			if !on {
				continue
			}
			if fd == nil {
				fd = make(map[string]any, len(fs))
			}
			fd[string(f.Canonical())] = true
		}
		if fd != nil {
			rd["features"] = fd
		}
		d[string(role)] = rd
	}
	return d
}

// ParseRoles reads the role announcement in details["roles"] of a HELLO or
// WELCOME.
//
// Unknown roles, unknown keys of a role's dict and non-bool feature values
// are ignored (spec: unknown keys MUST be ignored); feature aliases are
// stored in their canonical spelling. It returns a *[MessageError] if
// details has no "roles", if roles or a known role's entry or its
// "features" is not a dict, or if no known role was announced. Callers
// check the kind of roles (client or router) themselves.
func ParseRoles(details Dict) (Roles, error) {
	v, ok := details["roles"]
	if !ok {
		return nil, malformed(0, "Details.roles", "missing")
	}
	rd, ok := asDict(v)
	if !ok {
		return nil, malformed(0, "Details.roles", "not a dict")
	}
	roles := make(Roles, len(rd))
	for k, rv := range rd {
		role := Role(k)
		if !role.Client() && !role.Router() {
			continue
		}
		d, ok := asDict(rv)
		if !ok {
			return nil, malformed(0, "Details.roles."+k, "not a dict")
		}
		fs := Features{}
		if fv, ok := d["features"]; ok {
			fd, ok := asDict(fv)
			if !ok {
				return nil, malformed(0, "Details.roles."+k+".features", "not a dict")
			}
			for name, on := range fd {
				if b, ok := on.(bool); ok {
					fs[Feature(name).Canonical()] = b || fs[Feature(name).Canonical()]
				}
			}
		}
		roles[role] = fs
	}
	if len(roles) == 0 {
		return nil, malformed(0, "Details.roles", "no known role announced")
	}
	return roles, nil
}
