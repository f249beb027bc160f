package router

// AuthThrottleLen returns how many authids and addresses r's
// authentication throttle remembers, for tests of its bounds.
func AuthThrottleLen(r *Router) (authids, addresses int) {
	return r.guard.authids.Len(), r.guard.addrs.Len()
}
