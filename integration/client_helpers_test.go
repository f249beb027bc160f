package integration

import (
	"crypto/ed25519"
	"encoding/hex"

	"github.com/wampkit/wampkit/protocol"
)

// cryptosignExtra is the HELLO.Details.authextra that announces the
// public key of priv for WAMP-Cryptosign, for tests that announce another
// key than the one they sign with (Config.AuthExtra wins over the
// authenticator's).
func cryptosignExtra(priv ed25519.PrivateKey) protocol.Dict {
	return protocol.Dict{"pubkey": hex.EncodeToString(priv.Public().(ed25519.PublicKey))}
}
