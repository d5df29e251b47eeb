// Package cosign owns the formats of sigstore's cosign that imgsave keeps and
// checks offline: public keys as `cosign generate-key-pair` writes cosign.pub,
// cosign's password-encrypted private keys, the raw signatures cosign makes,
// the "simple signing" payload of a signature (.sig) image, and the DSSE
// envelope holding an in-toto statement of an attestation (.att) image.
//
// It signs and verifies as cosign 2.5 does with a key file (measured with
// its binary; see testdata/README.md):
//
//   - ECDSA (P-256, P-384, P-521): ASN.1 DER over SHA-256 of the payload,
//     whatever the curve (cosign's --signature-digest-algorithm default).
//   - Ed25519: pure Ed25519 over the payload itself, not Ed25519ph.
//   - RSA (2048 bits or more): PKCS #1 v1.5 over SHA-256.
//
// Signatures are raw bytes here; cosign stores them base64-encoded (in the
// [AnnotationSignature] annotation, in `cosign sign-blob` output files, in a
// DSSE envelope's "sig"), and decoding that is the caller's step.
//
// It refuses other key types, RSA keys under 2048 bits, scrypt parameters
// cosign never writes (a hostile key file could otherwise demand gigabytes
// of memory), and JSON that could be read two ways: duplicate or
// differently-cased keys, unknown fields where the format has none, data
// after the value. Every input is read through a size limit. It knows
// nothing of registries, transparency logs or certificates (keyless
// signing), never touches the file system, and imports nothing else of
// imgsave's.
package cosign
