package auth_test

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/wampkit/wampkit/internal/channelbind"
	"github.com/wampkit/wampkit/protocol"
	"github.com/wampkit/wampkit/router"
	"github.com/wampkit/wampkit/router/auth"
)

// cryptosignBoundVectors are the spec's test vectors with a channel_id
// (advanced/authentication_cryptosign.md, "Test Vectors"): seed, channel
// ID, challenge, and the AUTHENTICATE signature.
var cryptosignBoundVectors = []struct{ seed, channelID, challenge, signature string }{
	{"4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510", "62e935ae755f3d48f80d4d59f6121358c435722a67e859cc0caa8b539027f2ff", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "9b6f41540c9b95b4b7b281c3042fa9c54cef43c842d62ea3fd6030fcb66e70b3e80d49d44c29d1635da9348d02ec93f3ed1ef227dfb59a07b580095c2b82f80f9d16ca518aa0c2b707f2b2a609edeca73bca8dd59817a633f35574ac6fd80d00"},
	{"d511fe78e23934b3dadb52fcd022974b80bd92bccc7c5cf404e46cc0a8a2f5cd", "62e935ae755f3d48f80d4d59f6121358c435722a67e859cc0caa8b539027f2ff", "b26c1f87c13fc1da14997f1b5a71995dff8fbe0a62fae8473c7bdbd05bfb607d", "305aaa3ac25e98f651427688b3fc43fe7d8a68a7ec1d7d61c61517c519bd4a427c3015599d83ca28b4c652333920223844ef0725eb5dc2febfd6af7677b73f01d0852a29b460fc92ec943242ac638a053bbacc200512b18b30d15083cbdc9282"},
	{"6e1fde9cf9e2359a87420b65a87dc0c66136e66945196ba2475990d8a0c3a25b", "62e935ae755f3d48f80d4d59f6121358c435722a67e859cc0caa8b539027f2ff", "b05e6b8ad4d69abf74aa3be3c0ee40ae07d66e1895b9ab09285a2f1192d562d2", "ee3c7644fd8070532bc1fde3d70d742267da545d8c8f03e63bda63f1ad4214f4d2c4bfdb4eb9526def42deeb7e31602a6ff99eba893e0a4ad4d45892ca75e608d2b75e24a189a7f78ca776ba36fc53f6c3e31c32f251f2c524f0a44202f2902d"},
}

// TestCryptosignBoundVectors: the spec's signatures with a channel ID
// are over challenge XOR channel ID, followed by that message.
func TestCryptosignBoundVectors(t *testing.T) {
	for _, v := range cryptosignBoundVectors {
		priv := ed25519.NewKeyFromSeed(mustHex(t, v.seed))
		msg := channelbind.XOR(mustHex(t, v.challenge), mustHex(t, v.channelID))
		if got := hex.EncodeToString(ed25519.Sign(priv, msg)) + hex.EncodeToString(msg); got != v.signature {
			t.Errorf("sign(%s XOR %s) = %s, want %s", v.challenge, v.channelID, got, v.signature)
		}
	}
}

// signBound returns a cryptosign answer of key to a CHALLENGE, over the
// challenge XOR channelID (nil: the plain challenge).
func signBound(tb testing.TB, key ed25519.PrivateKey, extra protocol.Dict, channelID []byte) string {
	tb.Helper()
	msg := mustHex(tb, extra.String("challenge"))
	if channelID != nil {
		msg = channelbind.XOR(msg, channelID)
	}
	return hex.EncodeToString(ed25519.Sign(key, msg)) + hex.EncodeToString(msg)
}

// TestCryptosignChannelBinding runs cryptosign with TLS channel binding
// against the TLS state of real handshakes: the client is admitted when
// it signs over its connection's channel ID; a signature for another
// connection (one a man in the middle relays), or over the bare
// challenge, is refused after the CHALLENGE; a binding the transport
// cannot give (no TLS, tls-unique over TLS 1.3, an unknown type) is
// refused before any CHALLENGE, with a message that says why.
func TestCryptosignChannelBinding(t *testing.T) {
	key := ed25519.NewKeyFromSeed(mustHex(t, cryptosignVectors[0].seed))
	routerKey := ed25519.NewKeyFromSeed(mustHex(t, cryptosignVectors[1].seed))
	cs := &auth.Cryptosign{
		Principals: map[string]auth.CryptosignPrincipal{"dev": {PublicKeys: []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}}},
		RouterKey:  routerKey,
	}
	c12, s12 := tlsPair(t, tls.VersionTLS12, nil)
	c13, s13 := tlsPair(t, tls.VersionTLS13, nil)
	other13, _ := tlsPair(t, tls.VersionTLS13, nil)
	other12, _ := tlsPair(t, tls.VersionTLS12, nil)
	id := func(st *tls.ConnectionState, kind string) []byte {
		b, err := channelbind.ID(st, kind)
		if err != nil {
			t.Fatalf("channel ID %s: %v", kind, err)
		}
		return b
	}
	tests := []struct {
		name       string
		binding    any                  // authextra.channel_binding; nil: absent
		server     *tls.ConnectionState // the router's end
		signID     []byte               // what the client XORs its challenge with
		wantReason protocol.URI         // "" = welcomed
		wantMsg    string               // in the ABORT message
		challenged bool
	}{
		{"tls-exporter TLS 1.3", "tls-exporter", s13, id(c13, "tls-exporter"), "", "", true},
		{"tls-exporter TLS 1.2", "tls-exporter", s12, id(c12, "tls-exporter"), "", "", true},
		{"tls-unique TLS 1.2", "tls-unique", s12, id(c12, "tls-unique"), "", "", true},
		{"no binding over TLS", nil, s13, nil, "", "", true},
		{"relayed tls-exporter", "tls-exporter", s13, id(other13, "tls-exporter"), protocol.ErrAuthenticationDenied, "TLS channel", true},
		{"relayed tls-unique", "tls-unique", s12, id(other12, "tls-unique"), protocol.ErrAuthenticationDenied, "TLS channel", true},
		{"bare challenge signed", "tls-exporter", s13, nil, protocol.ErrAuthenticationDenied, "TLS channel", true},
		{"tls-unique TLS 1.3", "tls-unique", s13, nil, protocol.ErrAuthenticationDenied, "TLS 1.3", false},
		{"tls-exporter without TLS", "tls-exporter", nil, nil, protocol.ErrAuthenticationDenied, "needs TLS", false},
		{"tls-unique without TLS", "tls-unique", nil, nil, protocol.ErrAuthenticationDenied, "needs TLS", false},
		{"unknown type", "tls-server-end-point", s13, nil, protocol.ErrAuthenticationDenied, "unknown type", false},
		{"not a string", 42, s13, nil, protocol.ErrAuthenticationDenied, "channel binding", false},
	}
	const clientChallenge = "bbae60ea44cdd7b20dc7010a618b0f0803fab25a817520b4b7f057299b524deb"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := &scriptedChallenger{answer: func(_ string, extra protocol.Dict) string {
				return signBound(t, key, extra, tt.signID)
			}}
			authextra := protocol.Dict{"pubkey": hex.EncodeToString(key.Public().(ed25519.PublicKey)), "challenge": clientChallenge}
			if tt.binding != nil {
				authextra["channel_binding"] = tt.binding
			}
			req := &router.AuthRequest{Realm: realm1, AuthID: "dev", AuthExtra: authextra, TLS: tt.server}
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			idn, err := cs.Authenticate(ctx, req, ch)
			if challenged := len(ch.seen) > 0; challenged != tt.challenged {
				t.Errorf("challenged = %v, want %v", challenged, tt.challenged)
			}
			if tt.wantReason != "" {
				var ae *router.AuthError
				if !errors.As(err, &ae) || ae.Reason != tt.wantReason || !strings.Contains(ae.Message, tt.wantMsg) {
					t.Fatalf("Authenticate() = %v, %v; want ABORT %s with %q", idn, err, tt.wantReason, tt.wantMsg)
				}
				return
			}
			if err != nil || idn == nil || idn.AuthID != "dev" {
				t.Fatalf("Authenticate() = %v, %v; want dev", idn, err)
			}
			extra := ch.seen[0]
			if got := extra["channel_binding"]; got != tt.binding {
				t.Errorf("CHALLENGE.Extra.channel_binding = %v, want %v", got, tt.binding)
			}
			// Router authentication signs the client's challenge XOR the
			// channel ID (spec "Router Authentication").
			want := mustHex(t, clientChallenge)
			if tt.signID != nil {
				want = channelbind.XOR(want, tt.signID)
			}
			sig := mustHex(t, extra.String("signature"))
			if len(sig) != 96 || hex.EncodeToString(sig[64:]) != hex.EncodeToString(want) || !ed25519.Verify(routerKey.Public().(ed25519.PublicKey), want, sig[:64]) {
				t.Errorf("CHALLENGE.Extra.signature = %x, want the router's signature over %x", sig, want)
			}
		})
	}
}
