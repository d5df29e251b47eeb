package cosign

import (
	"bytes"
	"crypto"
	"crypto/dsa" //lint:ignore SA1019 only named, to say what a refused key is
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/scrypt"
)

// PEM block types of cosign's encrypted private keys: cosign 2 writes
// "ENCRYPTED SIGSTORE PRIVATE KEY", cosign 1 wrote "ENCRYPTED COSIGN PRIVATE
// KEY"; the contents are the same (cosign pkg/cosign/keys.go).
const (
	pemSigstorePrivateKey = "ENCRYPTED SIGSTORE PRIVATE KEY"
	pemCosignPrivateKey   = "ENCRYPTED COSIGN PRIVATE KEY"
	pemPublicKey          = "PUBLIC KEY"
)

// RSA key sizes accepted. cosign signs with 2048, 3072 and 4096 bits; the
// upper bound keeps a hostile key from making verification slow.
const (
	minRSABits = 2048
	maxRSABits = 16384
)

// MaxKeyFile bounds a key file, public or private: an encrypted
// 16384-bit RSA key, the largest accepted, is about 13 KiB, its public key
// under 3 KiB. Read a key through this bound (io.LimitReader of
// MaxKeyFile+1), so that /dev/zero fails at once.
const MaxKeyFile = 64 << 10

// ParsePublicKey reads a PEM public key as `cosign generate-key-pair` writes
// it to cosign.pub: one "PUBLIC KEY" block holding a PKIX
// SubjectPublicKeyInfo. It returns an *ecdsa.PublicKey (P-256, P-384 or
// P-521), an ed25519.PublicKey or an *rsa.PublicKey of at least 2048 bits;
// any other key is an error saying what it is.
func ParsePublicKey(pemBytes []byte) (crypto.PublicKey, error) {
	if len(pemBytes) > MaxKeyFile {
		return nil, fmt.Errorf("public key: over %d bytes", MaxKeyFile)
	}
	blk, rest := pem.Decode(pemBytes)
	if blk == nil {
		return nil, fmt.Errorf("public key: no PEM block")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("public key: data after the PEM block")
	}
	if blk.Type != pemPublicKey {
		hint := ""
		if blk.Type == pemSigstorePrivateKey || blk.Type == pemCosignPrivateKey {
			hint = "; this is cosign.key, give cosign.pub"
		}
		return nil, fmt.Errorf("public key: PEM block is %q, want %q%s", blk.Type, pemPublicKey, hint)
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	if err := checkKey(pub); err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	return pub, nil
}

// checkKey refuses a public key cosign does not sign with, saying what it is.
func checkKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		return fmt.Errorf("ECDSA key on curve %s, want P-256, P-384 or P-521", k.Curve.Params().Name)
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return fmt.Errorf("Ed25519 key of %d bytes, want %d", len(k), ed25519.PublicKeySize)
		}
		return nil
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < minRSABits || n > maxRSABits {
			return fmt.Errorf("RSA key of %d bits, want %d to %d", n, minRSABits, maxRSABits)
		}
		return nil
	case *ecdh.PublicKey:
		return fmt.Errorf("%v key, which cannot sign", k.Curve())
	case *dsa.PublicKey:
		return fmt.Errorf("DSA key, which cosign does not use")
	case nil:
		return fmt.Errorf("no key")
	}
	return fmt.Errorf("unsupported key type %T", pub)
}

// Verify checks sig, a raw signature (base64-decoded) as cosign makes it
// with a key file, over payload. ECDSA signatures are ASN.1 DER over
// SHA-256(payload) on every curve, Ed25519 signatures are pure Ed25519 over
// payload, RSA signatures are PKCS #1 v1.5 over SHA-256(payload); see the
// package documentation. It returns an error wrapping [ErrBadSignature] when
// sig does not verify, and another error when pub is not a key cosign signs
// with.
func Verify(pub crypto.PublicKey, payload, sig []byte) error {
	if err := checkKey(pub); err != nil {
		return err
	}
	ok := false
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		h := sha256.Sum256(payload)
		ok = ecdsa.VerifyASN1(k, h[:], sig)
	case ed25519.PublicKey:
		ok = ed25519.Verify(k, payload, sig)
	case *rsa.PublicKey:
		h := sha256.Sum256(payload)
		ok = rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], sig) == nil
	}
	if !ok {
		return fmt.Errorf("%s: %w", describe(pub), ErrBadSignature)
	}
	return nil
}

// describe names a key checked by checkKey and its signature scheme, for
// error messages.
func describe(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name + " SHA-256"
	case ed25519.PublicKey:
		return "Ed25519"
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d PKCS#1 v1.5 SHA-256", k.N.BitLen())
	}
	return fmt.Sprintf("%T", pub)
}

// Sign signs payload with key as cosign 2.5 signs with a key file, so that
// [Verify] and `cosign verify-blob --key` accept the signature. It returns
// the raw signature; cosign stores it base64-encoded. key must be an ECDSA,
// Ed25519 or RSA signer as [Verify] accepts; Sign checks its own signature
// before returning it, so a signer that pads or hashes otherwise (RSA-PSS,
// Ed25519ph) is an error rather than a signature nobody accepts.
func Sign(key crypto.Signer, payload []byte) ([]byte, error) {
	pub := key.Public()
	if err := checkKey(pub); err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	var sig []byte
	var err error
	switch pub.(type) {
	case ed25519.PublicKey:
		sig, err = key.Sign(rand.Reader, payload, crypto.Hash(0))
	default: // ECDSA and RSA: the hash is SHA-256 for both
		h := sha256.Sum256(payload)
		sig, err = key.Sign(rand.Reader, h[:], crypto.SHA256)
	}
	if err != nil {
		return nil, fmt.Errorf("signing with %s: %w", describe(pub), err)
	}
	if err := Verify(pub, payload, sig); err != nil {
		return nil, fmt.Errorf("signing: the signer's own signature: %w", err)
	}
	return sig, nil
}

// encryptedKey is the JSON inside cosign's private key PEM block, as
// github.com/secure-systems-lab/go-securesystemslib/encrypted writes it.
// []byte fields are base64 in JSON.
type encryptedKey struct {
	KDF struct {
		Name   string
		Params struct{ N, R, P int }
		Salt   []byte
	}
	Cipher struct {
		Name  string
		Nonce []byte
	}
	Ciphertext []byte
}

// scryptParams are the only parameters go-securesystemslib's encrypted
// package has written (legacy, standard, OWASP) and the only ones it reads:
// anything else lets a tampered key file demand unbounded memory and time.
var scryptParams = [][3]int{
	{1 << 15, 8, 1},
	{1 << 16, 8, 1}, // what cosign 2 writes
	{1 << 17, 8, 1},
}

// LoadPrivateKey decrypts a private key as cosign writes cosign.key: a PEM
// block "ENCRYPTED SIGSTORE PRIVATE KEY" (cosign 2) or "ENCRYPTED COSIGN
// PRIVATE KEY" (older cosign) holding JSON that names scrypt with its
// parameters and salt and nacl/secretbox with its nonce, and a ciphertext
// that opens to a PKCS #8 private key. It returns an *ecdsa.PrivateKey, an
// ed25519.PrivateKey or an *rsa.PrivateKey whose public key [Verify]
// accepts. A password that does not open the key gives an error wrapping
// [ErrBadPassword]. It derives the key with scrypt, which takes about a
// tenth of a second and 64 MiB.
func LoadPrivateKey(pemBytes, password []byte) (crypto.Signer, error) {
	if len(pemBytes) > MaxKeyFile {
		return nil, fmt.Errorf("private key: over %d bytes", MaxKeyFile)
	}
	blk, rest := pem.Decode(pemBytes)
	if blk == nil {
		return nil, fmt.Errorf("private key: no PEM block")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("private key: data after the PEM block")
	}
	switch blk.Type {
	case pemSigstorePrivateKey, pemCosignPrivateKey:
	case "PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY":
		return nil, fmt.Errorf("private key: PEM block %q is not encrypted as cosign does; run `cosign import-key-pair --key` on it first", blk.Type)
	default:
		return nil, fmt.Errorf("private key: PEM block is %q, want %q", blk.Type, pemSigstorePrivateKey)
	}
	var ek encryptedKey
	if err := decodeEncryptedKey(blk.Bytes, &ek); err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	if ek.KDF.Name != "scrypt" {
		return nil, fmt.Errorf("private key: key derivation %q, want \"scrypt\"", ek.KDF.Name)
	}
	if ek.Cipher.Name != "nacl/secretbox" {
		return nil, fmt.Errorf("private key: cipher %q, want \"nacl/secretbox\"", ek.Cipher.Name)
	}
	p := ek.KDF.Params
	known := false
	for _, s := range scryptParams {
		known = known || s == [3]int{p.N, p.R, p.P}
	}
	if !known {
		return nil, fmt.Errorf("private key: scrypt parameters N=%d r=%d p=%d are not ones cosign writes", p.N, p.R, p.P)
	}
	var nonce [24]byte
	if len(ek.Cipher.Nonce) != len(nonce) {
		return nil, fmt.Errorf("private key: secretbox nonce of %d bytes, want %d", len(ek.Cipher.Nonce), len(nonce))
	}
	copy(nonce[:], ek.Cipher.Nonce)
	k, err := scrypt.Key(password, ek.KDF.Salt, p.N, p.R, p.P, 32)
	if err != nil {
		return nil, fmt.Errorf("private key: scrypt: %w", err)
	}
	var box [32]byte
	copy(box[:], k)
	der, ok := secretbox.Open(nil, ek.Ciphertext, &nonce, &box)
	if !ok {
		return nil, fmt.Errorf("private key: %w", ErrBadPassword)
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("private key: decrypted, but %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key: unsupported key type %T", key)
	}
	if err := checkKey(signer.Public()); err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	return signer, nil
}

// decodeEncryptedKey reads the JSON of an encrypted key with the exact
// field names go-securesystemslib writes.
func decodeEncryptedKey(b []byte, ek *encryptedKey) error {
	if err := checkJSON(b, MaxKeyFile); err != nil {
		return err
	}
	top, err := parseObject(b, []string{"kdf", "cipher", "ciphertext"})
	if err != nil {
		return err
	}
	kdf, err := parseObject(top["kdf"], []string{"name", "params", "salt"})
	if err != nil {
		return fmt.Errorf("kdf: %w", err)
	}
	params, err := parseObject(kdf["params"], []string{"N", "r", "p"})
	if err != nil {
		return fmt.Errorf("kdf params: %w", err)
	}
	cipher, err := parseObject(top["cipher"], []string{"name", "nonce"})
	if err != nil {
		return fmt.Errorf("cipher: %w", err)
	}
	return firstErr(
		kdf.get("name", &ek.KDF.Name),
		kdf.get("salt", &ek.KDF.Salt),
		params.get("N", &ek.KDF.Params.N),
		params.get("r", &ek.KDF.Params.R),
		params.get("p", &ek.KDF.Params.P),
		cipher.get("name", &ek.Cipher.Name),
		cipher.get("nonce", &ek.Cipher.Nonce),
		top.get("ciphertext", &ek.Ciphertext),
	)
}
