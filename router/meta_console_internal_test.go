package router

import "testing"

func TestContainsLower(t *testing.T) {
	tests := []struct {
		s, substr string
		want      bool
	}{
		{"JXHT-DLCD-MV9D", "dlcd", true},
		{"jxht-dlcd", "dlcd", true},
		{"JXHT", "jxhtx", false},
		{"user-04321", "user-0432", true},
		{"user-04321", "04322", false},
		{"anything", "", true},
		{"", "a", false},
		{"ÄRGER-Operator", "ärger", true},
		{"ÄRGER-Operator", "operator", true},
		{"Straße", "ss", false},
	}
	for _, tt := range tests {
		if got := containsLower(tt.s, tt.substr); got != tt.want {
			t.Errorf("containsLower(%q, %q) = %v, want %v", tt.s, tt.substr, got, tt.want)
		}
	}
}
