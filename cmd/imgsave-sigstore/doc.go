// Command imgsave-sigstore verifies a Sigstore bundle offline: keyless
// (a Fulcio certificate naming an identity and an OIDC issuer) or
// key-based, against a pinned trusted_root.json, with sigstore-go. imgsave
// runs it as a child process when it checks Sigstore evidence (#30); it is
// a separate binary so that sigstore-go's size and start-up cost stay off
// every other imgsave command (see "Why a separate binary" below).
//
// # Install and lookup
//
// `go install github.com/imgsave/imgsave/cmd/...@latest` installs both
// imgsave and imgsave-sigstore into the same folder. imgsave finds the
// verifier with [sigstore.Find]: first beside its own executable
// ([os.Executable]), then on PATH.
//
// # Arguments
//
//	imgsave-sigstore verify --trusted-root FILE POLICY [--] BUNDLE DIGEST
//
// POLICY is --key FILE (a PEM public key, as cosign.pub), or one of
// --certificate-identity ID / --certificate-identity-regexp RE together with
// one of --certificate-oidc-issuer URL / --certificate-oidc-issuer-regexp RE,
// as cosign names them. BUNDLE is a bundle file, media type
// application/vnd.dev.sigstore.bundle+json;version=0.1 to 0.3 (v0.3 is what
// cosign v3 writes). DIGEST is algorithm:hex (sha256, sha384 or sha512) of
// the signed artifact, for an image its manifest: a message-signature
// bundle must sign it; a DSSE in-toto statement (an attestation, or a cosign
// v3 image signature) must name it among its subjects.
// [sigstore.Options.Args] builds this argv.
//
// # Checks
//
// All done by sigstore-go v1.3.0 (no hand-written crypto here):
//   - the signing certificate chains to a Fulcio CA of the trusted root, or
//     the signature verifies with --key;
//   - the certificate's SAN and OIDC issuer match the policy;
//   - at least one Rekor entry, by its inclusion proof (checkpoint signed by
//     a log of the root) or, for v0.1 bundles, its SET;
//   - at least one verified time (the log's integrated time or an RFC 3161
//     timestamp), and the certificate valid at every verified time; every
//     RFC 3161 timestamp in the bundle must verify against a TSA of the
//     root (an unknown TSA is refused, not skipped);
//   - an SCT from a CT log of the root, for keyless bundles, when the root
//     names a CT log (public-good does);
//   - the artifact digest, as above.
//
// # Output
//
// One JSON object on stdout ([sigstore.Result], read with
// [sigstore.ParseResult]), also when verification fails:
//
//	{
//	  "verified": true,
//	  "error": "...",                  // only when not verified, one line
//	  "bundle": "img.sigstore.json",
//	  "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
//	  "digest": "sha256:...",
//	  "identity": "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main",
//	  "issuer": "https://token.actions.githubusercontent.com",
//	  "certificateIssuer": "CN=sigstore-intermediate,O=sigstore.dev",
//	  "key": true,                     // only for --key
//	  "integratedTime": "2023-04-18T17:45:12Z",
//	  "timestamps": [{"type": "Tlog", "uri": "https://rekor.sigstore.dev", "time": "2023-04-18T17:45:12Z"}],
//	  "predicateType": "https://slsa.dev/provenance/v0.2",
//	  "subjects": [{"name": "...", "digests": ["sha512:..."]}]
//	}
//
// The exit status is 0 only when verified is true, 1 when the bundle was
// refused or an input could not be read (the same error line also goes to
// stderr as "imgsave-sigstore: ..."), 2 for a usage error (no JSON then).
//
// # Offline
//
// The verifier never fetches: no TUF client is constructed, the trusted
// root is a required file, and every HTTP request of the process fails (the
// default transport is replaced at start-up). Its tests run it under
// `unshare -n`. Inputs are bounded: bundle and trusted root 4 MiB each, a
// key file 64 KiB.
//
// # Why a separate binary
//
// Measured on this project's machine (Go 1.26.8, linux/amd64, 2 shared
// cores; 25 runs of --help with GODEBUG=inittrace=1, init times summed):
//
//	                   size      init (min / median)
//	imgsave-sigstore   26.3 MB   4.0 ms / 6.5 ms  (go-openapi/strfmt, govalidator lead)
//	imgsave            17.4 MB   2.1 ms / 2.9 ms
//
// (imgsave-sigstore is 18.2 MB with -ldflags='-s -w'.) A whole keyless
// verification of a public-good bundle takes about 10 ms of wall time. Had
// imgsave linked sigstore-go, every command would pay its initialisation and
// size; as a child process, only a keyless check does. A test (deps_test.go
// in this folder) fails if cmd/imgsave ever links a github.com/sigstore
// package.
package main
