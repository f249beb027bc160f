package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Roles of wampd's sessions. All of them come from the configuration: a
// principal has its role (DefaultRole if it names none) and an anonymous
// client AnonymousRole, so wampd knows every role a realm's sessions can
// have, and a role named anywhere else must be one of them.
const (
	DefaultRole   = "user"
	AnonymousRole = "anonymous"
)

// roleHolder is who has a role: "anonymous clients have" or "ticket
// principal "alice" has".
type roleHolder struct {
	role, whoHas string
}

// roleHolders returns who in the realm has which role, in a fixed order:
// anonymous clients first (if admitted), then the principals by method
// (ticket, wampcra, cryptosign, scram, tls) and authid.
func (r RealmConfig) roleHolders() []roleHolder {
	var hs []roleHolder
	if r.anonymous() {
		hs = append(hs, roleHolder{AnonymousRole, "anonymous clients have"})
	}
	add := func(method, authid, role string) {
		if role == "" {
			role = DefaultRole
		}
		hs = append(hs, roleHolder{role, fmt.Sprintf("%s principal %q has", method, authid)})
	}
	for _, id := range slices.Sorted(maps.Keys(r.Ticket)) {
		add("ticket", id, r.Ticket[id].Role)
	}
	for _, id := range slices.Sorted(maps.Keys(r.WAMPCRA)) {
		add("wampcra", id, r.WAMPCRA[id].Role)
	}
	for _, id := range slices.Sorted(maps.Keys(r.Cryptosign)) {
		add("cryptosign", id, r.Cryptosign[id].Role)
	}
	for _, id := range slices.Sorted(maps.Keys(r.SCRAM)) {
		add("scram", id, r.SCRAM[id].Role)
	}
	for _, id := range slices.Sorted(maps.Keys(r.TLS)) {
		add("tls", id, r.TLS[id].Role)
	}
	return hs
}

// checkRoles reports the first role of the realm that is undefined:
//
//   - with permissions (authorization on), a role some session can have
//     but permissions does not list: such sessions could do nothing,
//     which an explicit empty list says on purpose and a typo by
//     accident;
//   - a role that permissions or trust_levels list but no session can
//     have (a typo, or permissions for anonymous in a realm that admits
//     no anonymous clients).
//
// extra are more holders of the realm's roles (the HTTP bridge's).
func (r RealmConfig) checkRoles(extra []roleHolder) error {
	holders := append(r.roleHolders(), extra...)
	roles := make(map[string]bool, len(holders))
	for _, h := range holders {
		roles[h.role] = true
	}
	if r.Permissions != nil {
		for _, h := range holders {
			if _, ok := r.Permissions[h.role]; !ok {
				return fmt.Errorf("wampd: realm %q: %s role %q, which permissions does not list: "+
					"add permissions for it (an empty list denies everything) or fix the role", r.Name, h.whoHas, h.role)
			}
		}
	}
	known := func() string {
		names := slices.Sorted(maps.Keys(roles))
		for i, n := range names {
			names[i] = fmt.Sprintf("%q", n)
		}
		return strings.Join(names, ", ")
	}
	for _, role := range slices.Sorted(maps.Keys(r.Permissions)) {
		if !roles[role] {
			return fmt.Errorf("wampd: realm %q: permissions for role %q, which no session can have (roles: %s)", r.Name, role, known())
		}
	}
	for _, role := range slices.Sorted(maps.Keys(r.TrustLevels)) {
		if !roles[role] {
			return fmt.Errorf("wampd: realm %q: trust_levels for role %q, which no session can have (roles: %s)", r.Name, role, known())
		}
	}
	return nil
}
