// Package sigstore is imgsave's side of the contract with imgsave-sigstore,
// the separate binary that verifies Sigstore bundles (keyless Fulcio
// certificates, Rekor entries, RFC 3161 timestamps) offline with
// sigstore-go.
//
// sigstore-go and its dependencies cost imgsave-sigstore about 26 MB and
// about 4 ms of package initialisation (imgsave: 2 ms); imgsave keeps that off
// every command by running the verifier as a child process only when keyless
// evidence is checked (#30). This package holds what both sides share and
// nothing else: the verifier's name and how to find it ([Find]), its argv
// ([Options.Args]) and the JSON object it prints ([Result], read back with
// [ParseResult]). It imports only the standard library and go-digest, and
// nothing of sigstore's; a test in cmd/imgsave-sigstore pins that imgsave
// does not link sigstore-go.
//
// The full contract is documented in cmd/imgsave-sigstore/doc.go.
package sigstore
