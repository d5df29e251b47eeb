// Command wrapkey writes a PKCS #8 private key (PEM "PRIVATE KEY", as
// openssl genpkey writes it) in cosign's encrypted format, as cosign's
// marshalKeyPair does: PKCS #8 DER sealed with nacl/secretbox under a key
// from scrypt (N=65536, r=8, p=1, 32-byte salt, 24-byte nonce), as JSON, in a
// PEM block "ENCRYPTED SIGSTORE PRIVATE KEY". The password comes from
// COSIGN_PASSWORD. It also writes the public key as cosign.pub would be.
// -n and -type make the older form: N=32768 ("legacy" in
// go-securesystemslib's encrypted package) and "ENCRYPTED COSIGN PRIVATE KEY".
//
// It exists because the cosign 2.5 binary these vectors come from refuses
// `cosign import-key-pair` for every ECDSA and RSA key ("error validating
// ecdsa key: unsupported public key type"), though it signs with such keys;
// see ../README.md.
//
//	go run ./manifest/cosign/testdata/wrapkey [-n N] [-type T] in.pem out-prefix
package main

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"os"

	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/scrypt"
)

func main() {
	n := flag.Int("n", 65536, "scrypt N")
	typ := flag.String("type", "ENCRYPTED SIGSTORE PRIVATE KEY", "PEM block type")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: wrapkey [-n N] [-type T] in.pem out-prefix")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), flag.Arg(1), *n, *typ, []byte(os.Getenv("COSIGN_PASSWORD"))); err != nil {
		fmt.Fprintln(os.Stderr, "wrapkey:", err)
		os.Exit(1)
	}
}

func run(in, prefix string, n int, typ string, password []byte) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return fmt.Errorf("%s: want a PEM \"PRIVATE KEY\" block", in)
	}
	key, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(key.(crypto.Signer).Public())
	if err != nil {
		return err
	}
	// Re-marshal, as cosign does, rather than keep openssl's bytes.
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	var salt [32]byte
	var nonce [24]byte
	rand.Read(salt[:])
	rand.Read(nonce[:])
	k, err := scrypt.Key(password, salt[:], n, 8, 1, 32)
	if err != nil {
		return err
	}
	var box [32]byte
	copy(box[:], k)
	type params struct {
		N int `json:"N"`
		R int `json:"r"`
		P int `json:"p"`
	}
	type kdf struct {
		Name   string `json:"name"`
		Params params `json:"params"`
		Salt   []byte `json:"salt"`
	}
	type cipher struct {
		Name  string `json:"name"`
		Nonce []byte `json:"nonce"`
	}
	j, err := json.Marshal(struct {
		KDF        kdf    `json:"kdf"`
		Cipher     cipher `json:"cipher"`
		Ciphertext []byte `json:"ciphertext"`
	}{
		kdf{"scrypt", params{n, 8, 1}, salt[:]},
		cipher{"nacl/secretbox", nonce[:]},
		secretbox.Seal(nil, der, &nonce, &box),
	})
	if err != nil {
		return err
	}
	if err := os.WriteFile(prefix+".key", pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: j}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(prefix+".pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644)
}
