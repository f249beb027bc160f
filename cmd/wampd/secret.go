package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxSecretFileSize bounds a file a Secret is read from.
const MaxSecretFileSize = 64 << 10

// Secret is a secret setting of the configuration file: a ticket, a
// password or a key. In the file it is either the secret itself, a
// string, or where to read it from when the file is loaded (at start and
// on every SIGHUP):
//
//	secret: "alice's ticket"              # the secret itself
//	secret: {env: ALICE_TICKET}           # an environment variable, set and not empty
//	secret: {file: /run/secrets/alice}    # a file, without one final line break
//
// A file path is relative to wampd's working directory, as the TLS files
// are; a file must not be empty or larger than MaxSecretFileSize. Keeping
// secrets out of the YAML text lets the file be shared, versioned and
// readable, while the secrets come from a secret store, a container's
// secrets, or systemd's LoadCredential (files under
// /run/credentials/<unit>/).
//
// A Secret prints and logs as "[secret]"; convert it to string for its
// value.
type Secret string

// String returns "[secret]", so that a Secret printed by mistake shows
// nothing.
func (Secret) String() string { return "[secret]" }

// GoString is String, for %#v.
func (s Secret) GoString() string { return s.String() }

// LogValue implements slog.LogValuer: a Secret logs as "[secret]".
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// UnmarshalYAML implements yaml.Unmarshaler: it reads a string, or
// {env: NAME} or {file: path} and then the variable or the file. Its
// errors name the line, the variable or the file, never the secret.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	v, err := readSecret(n)
	if err != nil {
		return fmt.Errorf("line %d: secret: %w", n.Line, err)
	}
	*s = Secret(v)
	return nil
}

func readSecret(n *yaml.Node) (string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		var v string
		err := n.Decode(&v)
		return v, err
	case yaml.MappingNode:
	default:
		return "", errors.New("want a string, {env: NAME} or {file: path}")
	}
	var env, file string
	var hasEnv, hasFile bool
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i].Value, n.Content[i+1]
		if val.Kind != yaml.ScalarNode {
			return "", fmt.Errorf("%s: want a string", key)
		}
		switch key {
		case "env":
			env, hasEnv = val.Value, true
		case "file":
			file, hasFile = val.Value, true
		default:
			return "", fmt.Errorf("unknown key %q: want env or file", key)
		}
	}
	switch {
	case hasEnv && hasFile:
		return "", errors.New("set env or file, not both")
	case hasEnv:
		v, ok := os.LookupEnv(env)
		if !ok {
			return "", fmt.Errorf("environment variable %q is not set", env)
		}
		if v == "" {
			return "", fmt.Errorf("environment variable %q is empty", env)
		}
		return v, nil
	case hasFile:
		return readSecretFile(file)
	}
	return "", errors.New("want env or file")
}

// readSecretFile returns the content of the file at path without one
// final line break ("\n" or "\r\n"), which editors and echo add.
func readSecretFile(path string) (string, error) {
	b, err := readBounded(path, MaxSecretFileSize)
	if err != nil {
		return "", err
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if v == "" {
		return "", fmt.Errorf("file %s is empty", path)
	}
	return v, nil
}

// readBounded returns the content of the file at path, or an error that
// names the path if it cannot be read or is larger than max bytes.
func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // names the path
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("file %s is larger than %d bytes", path, max)
	}
	return b, nil
}
