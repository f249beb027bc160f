package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
)

// ErrNotRunning is returned by [Main.Reload] before Run has succeeded or
// once shutdown has begun.
var ErrNotRunning = errors.New("wampd: not running")

// Reload rereads the configuration file (and the secrets it names from
// variables and files), with the same flags over it, and applies what can
// change while wampd runs, without ending any session:
//
//   - each realm's principals, their roles and credentials (with the
//     cryptosign router key and the tls client CA file), whether it
//     admits anonymous clients, and its permissions (router.UpdateRealm):
//     new logins use them at once, every request from now on is decided
//     by the new permissions, and the subscriptions and registrations
//     they no longer allow are revoked; sessions already joined keep
//     their authid and authrole, even if their principal was removed;
//   - the log level.
//
// It logs what changed (principals added and removed, roles and
// credentials changed, roles whose permissions changed; never a secret).
// Other changes take effect only at a restart: Reload names them in a
// WARN line and does not apply them (nor forget them: the next Reload
// names them again). If the file cannot be read or is invalid, nothing
// changes, and Reload logs and returns the error. The outcome is counted
// in wampd_config_reloads_total on the admin listener.
//
// Reload may be called once Run has returned, concurrently with anything
// but Run; reloads run one at a time. main calls it on SIGHUP. It returns
// [ErrNotRunning] if Run has not succeeded or shutdown has begun, and nil
// without a configuration file.
func (m *Main) Reload(ctx context.Context) error {
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	if m.router == nil || m.stopping.Load() {
		return ErrNotRunning
	}
	if m.configPath == "" {
		m.logger.Info("reload: no configuration file (-config), nothing to reload")
		return nil
	}
	err := m.reloadLocked(ctx)
	m.reload.count(err)
	if err != nil {
		m.logger.Error("reload failed", "file", m.configPath, "error", err)
	}
	return err
}

// reloadLocked is Reload's work; m.reloadMu must be held.
func (m *Main) reloadLocked(ctx context.Context) error {
	next, err := m.load()
	if err != nil {
		return fmt.Errorf("%w (nothing changed)", err)
	}
	old := m.running

	// Prepare every realm's update before applying any, so that a
	// principal whose keys cannot be derived changes nothing.
	type update struct {
		rc     router.RealmConfig
		realm  RealmConfig
		change realmChange
	}
	var updates []update
	for _, nr := range next.effectiveRealms() {
		or, ok := old.realm(nr.Name)
		if !ok {
			continue // a new realm needs a restart
		}
		ch := diffRealmAuth(or, nr)
		if ch.empty() {
			continue
		}
		auths, err := authenticators(nr)
		if err != nil {
			return fmt.Errorf("%w (nothing changed)", err)
		}
		auths = append(auths, m.extraAuth()...)
		authz, err := nr.authorizer()
		if err != nil {
			return fmt.Errorf("%w (nothing changed)", err)
		}
		updates = append(updates, update{
			rc:     router.RealmConfig{Name: protocol.URI(nr.Name), Authenticators: auths, Authorizer: authz},
			realm:  nr,
			change: ch,
		})
	}

	var errs []error
	for _, u := range updates {
		if err := m.router.UpdateRealm(ctx, u.rc); err != nil {
			errs = append(errs, fmt.Errorf("wampd: realm %q: %w", u.realm.Name, err))
			if errors.Is(err, router.ErrConfig) {
				continue // not applied
			}
			// ctx ended during the revocations: the new settings are in
			// force, some revocations may not be done.
		}
		m.running.setRealmAuth(u.realm)
		m.logger.Info("reload: realm updated", append([]any{"realm", u.realm.Name}, u.change.attrs()...)...)
	}
	levelChanged := next.Log.Level != old.Log.Level
	if levelChanged {
		level, _ := parseLevel(next.Log.Level) // checked by load
		m.level.Set(level)
		m.running.Log.Level = next.Log.Level
	}
	restart := restartSettings(old, next)
	if len(restart) > 0 {
		m.logger.Warn("reload: these settings take effect only at a restart; not applied", "settings", restart)
	}
	switch {
	case len(updates) == 0 && !levelChanged && len(restart) == 0:
		m.logger.Info("reload: configuration unchanged", "file", m.configPath)
	default:
		attrs := []any{"file", m.configPath, "realms_updated", len(updates)}
		if levelChanged {
			attrs = append(attrs, "log_level", next.Log.Level)
		}
		m.logger.Info("reload: done", attrs...)
	}
	return errors.Join(errs...)
}

// effectiveRealms returns the realms the router serves: the configured
// ones, or the default realm.
func (c *Config) effectiveRealms() []RealmConfig {
	if len(c.Realms) == 0 {
		return []RealmConfig{{Name: DefaultRealm}}
	}
	return c.Realms
}

// realm returns the served realm named name.
func (c *Config) realm(name string) (RealmConfig, bool) {
	for _, r := range c.effectiveRealms() {
		if r.Name == name {
			return r, true
		}
	}
	return RealmConfig{}, false
}

// setRealmAuth sets the settings of the realm r.Name that Reload applies
// to those of r. The realm must be configured (or be the default realm).
func (c *Config) setRealmAuth(r RealmConfig) {
	if len(c.Realms) == 0 {
		c.Realms = []RealmConfig{{Name: DefaultRealm}}
	}
	for i := range c.Realms {
		if c.Realms[i].Name == r.Name {
			c.Realms[i] = withAuthOf(c.Realms[i], r)
		}
	}
}

// withAuthOf returns r with the settings that Reload applies taken from
// from: anonymous, the principals, the cryptosign router key, the tls
// client CAs and the permissions.
func withAuthOf(r, from RealmConfig) RealmConfig {
	r.Anonymous = from.Anonymous
	r.Ticket, r.WAMPCRA, r.Cryptosign, r.SCRAM = from.Ticket, from.WAMPCRA, from.Cryptosign, from.SCRAM
	r.TLS, r.TLSClientCA, r.CryptosignRouterKey = from.TLS, from.TLSClientCA, from.CryptosignRouterKey
	r.Permissions = from.Permissions
	return r
}

// realmChange is what a reload changes in a realm's authentication and
// authorization, for the log. Principals are named method:authid.
type realmChange struct {
	added, removed []string // principals
	roles          []string // "method:authid: old -> new"
	credentials    []string // principals whose secret or keys changed
	anonymous      string   // "false -> true", or "" if unchanged
	authorization  string   // "on" or "off" if permissions appeared or went
	permissions    []string // roles whose rules changed, appeared or went
}

func (c realmChange) empty() bool {
	return len(c.added) == 0 && len(c.removed) == 0 && len(c.roles) == 0 && len(c.credentials) == 0 &&
		c.anonymous == "" && c.authorization == "" && len(c.permissions) == 0
}

// attrs returns the change as log attributes, leaving out what did not
// change.
func (c realmChange) attrs() []any {
	var attrs []any
	add := func(key string, v []string) {
		if len(v) > 0 {
			attrs = append(attrs, key, v)
		}
	}
	add("principals_added", c.added)
	add("principals_removed", c.removed)
	add("roles_changed", c.roles)
	add("credentials_changed", c.credentials)
	if c.anonymous != "" {
		attrs = append(attrs, "anonymous", c.anonymous)
	}
	if c.authorization != "" {
		attrs = append(attrs, "authorization", c.authorization)
	}
	add("permissions_changed", c.permissions)
	return attrs
}

// principalEntry is a principal's role and, for comparison only, its
// credentials (its configuration without the role).
type principalEntry struct {
	role       string
	credential any
}

// principalEntries returns the realm's principals by method:authid.
func (r RealmConfig) principalEntries() map[string]principalEntry {
	out := make(map[string]principalEntry)
	role := func(r string) string {
		if r == "" {
			return DefaultRole
		}
		return r
	}
	for id, p := range r.Ticket {
		out["ticket:"+id] = principalEntry{role(p.Role), PrincipalConfig{Secret: p.Secret}}
	}
	for id, p := range r.WAMPCRA {
		rl := role(p.Role)
		p.Role = ""
		out["wampcra:"+id] = principalEntry{rl, p}
	}
	for id, p := range r.Cryptosign {
		rl := role(p.Role)
		p.Role = ""
		out["cryptosign:"+id] = principalEntry{rl, p}
	}
	for id, p := range r.SCRAM {
		rl := role(p.Role)
		p.Role = ""
		out["scram:"+id] = principalEntry{rl, p}
	}
	for id, p := range r.TLS {
		rl := role(p.Role)
		p.Role = ""
		out["tls:"+id] = principalEntry{rl, p}
	}
	return out
}

// diffRealmAuth returns what changes in the realm's authentication and
// authorization from o to n.
func diffRealmAuth(o, n RealmConfig) realmChange {
	var c realmChange
	op, np := o.principalEntries(), n.principalEntries()
	for _, id := range slices.Sorted(maps.Keys(np)) {
		was, ok := op[id]
		switch {
		case !ok:
			c.added = append(c.added, id)
			continue
		case was.role != np[id].role:
			c.roles = append(c.roles, fmt.Sprintf("%s: %s -> %s", id, was.role, np[id].role))
		}
		if !reflect.DeepEqual(was.credential, np[id].credential) {
			c.credentials = append(c.credentials, id)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(op)) {
		if _, ok := np[id]; !ok {
			c.removed = append(c.removed, id)
		}
	}
	if o.CryptosignRouterKey != n.CryptosignRouterKey {
		c.credentials = append(c.credentials, "cryptosign_router_key")
	}
	if !o.TLSClientCA.equal(n.TLSClientCA) {
		c.credentials = append(c.credentials, "tls_client_ca")
	}
	if o.anonymous() != n.anonymous() {
		c.anonymous = fmt.Sprintf("%t -> %t", o.anonymous(), n.anonymous())
	}
	switch {
	case o.Permissions == nil && n.Permissions != nil:
		c.authorization = "on"
	case o.Permissions != nil && n.Permissions == nil:
		c.authorization = "off"
	}
	roles := maps.Clone(o.Permissions)
	if roles == nil {
		roles = make(map[string][]PermissionConfig)
	}
	maps.Copy(roles, n.Permissions)
	for _, role := range slices.Sorted(maps.Keys(roles)) {
		a, inOld := o.Permissions[role]
		b, inNew := n.Permissions[role]
		if inOld != inNew || !equalValues(reflect.ValueOf(a), reflect.ValueOf(b)) {
			c.permissions = append(c.permissions, role)
		}
	}
	return c
}

// restartSettings returns the settings, as paths of the YAML file, that
// differ between o and n and that Reload does not apply.
func restartSettings(o, n Config) []string {
	var out []string
	a, b := o, n
	a.Log.Level, b.Log.Level = "", ""
	a.Realms, b.Realms = nil, nil
	diffSettings(reflect.ValueOf(a), reflect.ValueOf(b), "", &out)

	or, nr := o.effectiveRealms(), n.effectiveRealms()
	for _, r := range or {
		if _, ok := n.realm(r.Name); !ok {
			out = append(out, fmt.Sprintf("realms[%s] (removed)", r.Name))
		}
	}
	for _, r := range nr {
		was, ok := o.realm(r.Name)
		if !ok {
			out = append(out, fmt.Sprintf("realms[%s] (added)", r.Name))
			continue
		}
		var empty RealmConfig
		diffSettings(reflect.ValueOf(withAuthOf(was, empty)), reflect.ValueOf(withAuthOf(r, empty)),
			fmt.Sprintf("realms[%s]", r.Name), &out)
	}
	return out
}

// diffSettings appends to out the path of every field of a (a Config or
// part of it) whose value differs in b, a struct field's path element
// being its YAML key.
func diffSettings(a, b reflect.Value, path string, out *[]string) {
	if a.Kind() != reflect.Struct {
		if !equalValues(a, b) {
			*out = append(*out, path)
		}
		return
	}
	t := a.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if key == "" {
			key = strings.ToLower(f.Name)
		}
		if path != "" {
			key = path + "." + key
		}
		diffSettings(a.Field(i), b.Field(i), key, out)
	}
}

// equalValues is reflect.DeepEqual, except that an empty slice or map
// equals nil, as they do in the YAML file.
func equalValues(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Slice, reflect.Map:
		if a.Len() == 0 && b.Len() == 0 {
			return true
		}
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}
