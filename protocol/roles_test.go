package protocol

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRoles(t *testing.T) {
	tests := []struct {
		name    string
		details Dict
		want    Roles
		err     string // part of the error, "" for success
	}{
		{
			name:    "basic client",
			details: Dict{"roles": map[string]any{"publisher": map[string]any{}, "subscriber": map[string]any{}}},
			want:    Roles{RolePublisher: Features{}, RoleSubscriber: Features{}},
		},
		{
			name: "advanced router (crossbar style WELCOME)",
			details: Dict{"authid": "x", "roles": map[string]any{
				"broker": map[string]any{"features": map[string]any{
					"pattern_based_subscription": true, "publisher_exclusion": true, "session_meta_api": true,
					"subscription_revocation": false,
				}},
				"dealer": map[string]any{"features": map[string]any{
					"call_canceling": true, "progressive_call_results": true, "shared_registration": true,
				}, "reflection": true},
			}},
			want: Roles{
				RoleBroker: Features{FeaturePatternBasedSubscription: true, FeaturePublisherExclusion: true,
					FeatureSessionMetaAPI: true, FeatureSubscriptionRevocation: false},
				RoleDealer: Features{FeatureCallCanceling: true, FeatureProgressiveCallResults: true, FeatureSharedRegistration: true},
			},
		},
		{
			name: "aliases and unknown keys",
			details: Dict{"roles": map[string]any{
				"callee":     map[string]any{"features": map[string]any{"call_cancelling": true, "x_custom": true, "call_timeout": "yes"}},
				"subscriber": map[string]any{"features": map[string]any{"shareded_subscriptions": true}},
				"watcher":    "ignored",
				"caller":     map[string]any{"extra": 1},
			}},
			want: Roles{
				RoleCallee:     Features{FeatureCallCanceling: true, "x_custom": true},
				RoleSubscriber: Features{FeatureShardedSubscription: true},
				RoleCaller:     Features{},
			},
		},
		{
			name:    "alias false does not hide canonical true",
			details: Dict{"roles": map[string]any{"caller": map[string]any{"features": map[string]any{"call_canceling": true, "call_cancelling": false}}}},
			want:    Roles{RoleCaller: Features{FeatureCallCanceling: true}},
		},
		{
			name:    "map[any]any from msgpack",
			details: Dict{"roles": map[any]any{"callee": map[any]any{"features": map[any]any{"progressive_call_results": true}}}},
			want:    Roles{RoleCallee: Features{FeatureProgressiveCallResults: true}},
		},
		{name: "nil details", details: nil, err: "Details.roles: missing"},
		{name: "no roles", details: Dict{"agent": "x"}, err: "Details.roles: missing"},
		{name: "roles not a dict", details: Dict{"roles": []any{"caller"}}, err: "Details.roles: not a dict"},
		{name: "roles non-string keys", details: Dict{"roles": map[any]any{1: map[string]any{}}}, err: "Details.roles: not a dict"},
		{name: "empty roles", details: Dict{"roles": map[string]any{}}, err: "no known role"},
		{name: "only unknown roles", details: Dict{"roles": map[string]any{"watcher": map[string]any{}}}, err: "no known role"},
		{name: "role not a dict", details: Dict{"roles": map[string]any{"caller": true}}, err: "Details.roles.caller: not a dict"},
		{name: "features not a dict", details: Dict{"roles": map[string]any{"caller": map[string]any{"features": []any{}}}},
			err: "Details.roles.caller.features: not a dict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRoles(tt.details)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrMalformed) {
					t.Fatalf("ParseRoles() = %v, %v, want error containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRoles() error: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseRoles() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRolesSupports(t *testing.T) {
	r := Roles{
		RoleDealer: Features{FeatureCallCanceling: true, FeatureProgressiveCallResults: false},
		RoleCallee: Features{"call_cancelling": true}, // built by hand with the alias
		RoleBroker: nil,
	}
	tests := []struct {
		role Role
		f    Feature
		want bool
	}{
		{RoleDealer, FeatureCallCanceling, true},
		{RoleDealer, "call_cancelling", true},
		{RoleCallee, FeatureCallCanceling, true},
		{RoleCallee, "call_cancelling", true},
		{RoleDealer, FeatureProgressiveCallResults, false},
		{RoleDealer, FeatureSharedRegistration, false},
		{RoleBroker, FeaturePublisherExclusion, false},
		{RoleCaller, FeatureCallCanceling, false},
	}
	for _, tt := range tests {
		if got := r.Supports(tt.role, tt.f); got != tt.want {
			t.Errorf("Supports(%s, %s) = %v, want %v", tt.role, tt.f, got, tt.want)
		}
	}
	if !r.Has(RoleBroker) || r.Has(RoleCaller) {
		t.Errorf("Has(broker), Has(caller) = %v, %v, want true, false", r.Has(RoleBroker), r.Has(RoleCaller))
	}
	var nilRoles Roles
	if nilRoles.Has(RoleCaller) || nilRoles.Supports(RoleCaller, FeatureCallCanceling) {
		t.Error("nil Roles reports a role")
	}
}

func TestRolesDict(t *testing.T) {
	r := Roles{
		RoleBroker: Features{FeaturePublisherExclusion: true, FeatureEventHistory: false},
		RoleDealer: Features{"call_cancelling": true},
		RoleCaller: nil,
	}
	want := Dict{
		"broker": map[string]any{"features": map[string]any{"publisher_exclusion": true}},
		"dealer": map[string]any{"features": map[string]any{"call_canceling": true}},
		"caller": map[string]any{},
	}
	got := r.Dict()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Dict() mismatch (-want +got):\n%s", diff)
	}
	// Round trip through a HELLO.
	back, err := ParseRoles(Dict{"roles": map[string]any(got)})
	if err != nil {
		t.Fatalf("ParseRoles(Dict()) error: %v", err)
	}
	wantBack := Roles{
		RoleBroker: Features{FeaturePublisherExclusion: true},
		RoleDealer: Features{FeatureCallCanceling: true},
		RoleCaller: Features{},
	}
	if diff := cmp.Diff(wantBack, back); diff != "" {
		t.Errorf("ParseRoles(Dict()) mismatch (-want +got):\n%s", diff)
	}
}

func TestRoleKinds(t *testing.T) {
	for _, r := range []Role{RolePublisher, RoleSubscriber, RoleCaller, RoleCallee} {
		if !r.Client() || r.Router() {
			t.Errorf("%s: Client() = %v, Router() = %v", r, r.Client(), r.Router())
		}
	}
	for _, r := range []Role{RoleBroker, RoleDealer} {
		if r.Client() || !r.Router() {
			t.Errorf("%s: Client() = %v, Router() = %v", r, r.Client(), r.Router())
		}
	}
	if Role("x").Client() || Role("x").Router() {
		t.Error("unknown role is a client or router role")
	}
}

func TestFeatureCanonical(t *testing.T) {
	tests := []struct{ in, want Feature }{
		{"call_cancelling", FeatureCallCanceling},
		{"shareded_subscriptions", FeatureShardedSubscription},
		{FeatureCallCanceling, FeatureCallCanceling},
		{"x_custom", "x_custom"},
	}
	for _, tt := range tests {
		if got := tt.in.Canonical(); got != tt.want {
			t.Errorf("Feature(%q).Canonical() = %q, want %q", tt.in, got, tt.want)
		}
	}
}
