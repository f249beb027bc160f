package protocol

// Predefined error URIs (spec basic "Predefined URIs" and advanced
// "Predefined URIs").
const (
	ErrInvalidURI               URI = "wamp.error.invalid_uri"
	ErrNoSuchProcedure          URI = "wamp.error.no_such_procedure"
	ErrProcedureAlreadyExists   URI = "wamp.error.procedure_already_exists"
	ErrNoSuchRegistration       URI = "wamp.error.no_such_registration"
	ErrNoSuchSubscription       URI = "wamp.error.no_such_subscription"
	ErrInvalidArgument          URI = "wamp.error.invalid_argument"
	ErrCanceled                 URI = "wamp.error.canceled"
	ErrPayloadSizeExceeded      URI = "wamp.error.payload_size_exceeded"
	ErrProtocolViolation        URI = "wamp.error.protocol_violation"
	ErrNotAuthorized            URI = "wamp.error.not_authorized"
	ErrAuthorizationFailed      URI = "wamp.error.authorization_failed"
	ErrNoSuchRealm              URI = "wamp.error.no_such_realm"
	ErrNoSuchRole               URI = "wamp.error.no_such_role"
	ErrNoMatchingAuthMethod     URI = "wamp.error.no_matching_auth_method"
	ErrNoSuchPrincipal          URI = "wamp.error.no_such_principal"
	ErrAuthenticationDenied     URI = "wamp.error.authentication_denied"
	ErrAuthenticationFailed     URI = "wamp.error.authentication_failed"
	ErrAuthenticationRequired   URI = "wamp.error.authentication_required"
	ErrAuthorizationDenied      URI = "wamp.error.authorization_denied"
	ErrAuthorizationRequired    URI = "wamp.error.authorization_required"
	ErrTimeout                  URI = "wamp.error.timeout"
	ErrOptionNotAllowed         URI = "wamp.error.option_not_allowed"
	ErrOptionDisallowedDisclose URI = "wamp.error.option_disallowed.disclose_me"
	ErrNetworkFailure           URI = "wamp.error.network_failure"
	ErrUnavailable              URI = "wamp.error.unavailable"
	ErrNoAvailableCallee        URI = "wamp.error.no_available_callee"
	ErrFeatureNotSupported      URI = "wamp.error.feature_not_supported"
	ErrNoSuchSession            URI = "wamp.error.no_such_session"
)

// Predefined close reasons for GOODBYE and ABORT.
const (
	CloseSystemShutdown URI = "wamp.close.system_shutdown"
	CloseRealm          URI = "wamp.close.close_realm"
	CloseGoodbyeAndOut  URI = "wamp.close.goodbye_and_out"
	CloseKilled         URI = "wamp.close.killed"
)
