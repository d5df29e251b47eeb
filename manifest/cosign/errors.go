package cosign

import "errors"

// ErrBadSignature is returned by [Verify] and [Envelope.Verify] when no
// signature verifies: a tampered payload or signature, or another key.
var ErrBadSignature = errors.New("signature does not verify")

// ErrBadPassword is returned by [LoadPrivateKey] when the password does not
// open the key. cosign's format cannot tell that from a corrupted
// ciphertext: both fail secretbox's authentication.
var ErrBadPassword = errors.New("wrong password for the private key")
