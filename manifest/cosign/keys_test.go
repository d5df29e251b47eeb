package cosign

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const password = "imgsave-test" // of every key in testdata

// vectors are the key pairs in testdata, each with a signature of
// payload.json that cosign made and verified.
var vectors = []string{"ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "ed25519", "rsa2048", "rsa4096", "legacy-p256"}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func publicKey(t testing.TB, name string) crypto.PublicKey {
	t.Helper()
	pub, err := ParsePublicKey(readFile(t, name+".pub"))
	if err != nil {
		t.Fatalf("ParsePublicKey(%s.pub) = %v", name, err)
	}
	return pub
}

// signature reads a signature file as cosign writes it: base64.
func signature(t testing.TB, name string) []byte {
	t.Helper()
	sig, err := base64.StdEncoding.DecodeString(string(readFile(t, name+".sig")))
	if err != nil {
		t.Fatalf("%s.sig: %v", name, err)
	}
	return sig
}

func TestParsePublicKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		want string // type and size
	}{
		{"ecdsa-p256", "ECDSA P-256"},
		{"ecdsa-p384", "ECDSA P-384"},
		{"ecdsa-p521", "ECDSA P-521"},
		{"ed25519", "Ed25519"},
		{"rsa2048", "RSA 2048"},
		{"rsa4096", "RSA 4096"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub := publicKey(t, tc.name)
			var got string
			switch k := pub.(type) {
			case *ecdsa.PublicKey:
				got = "ECDSA " + k.Curve.Params().Name
			case ed25519.PublicKey:
				got = "Ed25519"
			case *rsa.PublicKey:
				got = "RSA " + strconv.Itoa(k.N.BitLen())
			}
			if got != tc.want {
				t.Errorf("ParsePublicKey(%s.pub) = %T (%s), want %s", tc.name, pub, got, tc.want)
			}
		})
	}
}

func pemPublic(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func TestParsePublicKeyRejects(t *testing.T) {
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := readFile(t, "ecdsa-p256.pub")
	for _, tc := range []struct {
		name string
		in   []byte
		want string // in the error
	}{
		{"empty", nil, "no PEM block"},
		{"not PEM", []byte("hello"), "no PEM block"},
		{"private key", readFile(t, "ecdsa-p256.key"), "this is cosign.key"},
		{"certificate", bytes.Replace(good, []byte("PUBLIC KEY"), []byte("CERTIFICATE"), 2), `"CERTIFICATE"`},
		{"two blocks", append(append([]byte{}, good...), good...), "data after the PEM block"},
		{"garbage DER", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{0x30, 0x03, 1, 2, 3}}), "public key: "},
		{"RSA 1024", readFile(t, "rsa1024.pub"), "RSA key of 1024 bits, want 2048"},
		{"DSA", readFile(t, "dsa.pub"), "DSA key"},
		{"P-224", pemPublic(t, &p224.PublicKey), "ECDSA key on curve P-224"},
		{"X25519", pemPublic(t, x25519.PublicKey()), "X25519 key, which cannot sign"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub, err := ParsePublicKey(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParsePublicKey(%.40q) = %T, %v; want an error with %q", tc.in, pub, err, tc.want)
			}
		})
	}
}

// TestVerifyCosignSignatures checks the signatures cosign made, and that a
// changed payload, a changed signature and another key fail with
// ErrBadSignature.
func TestVerifyCosignSignatures(t *testing.T) {
	payload := readFile(t, "payload.json")
	for i, name := range vectors {
		t.Run(name, func(t *testing.T) {
			pub, sig := publicKey(t, name), signature(t, name)
			if err := Verify(pub, payload, sig); err != nil {
				t.Fatalf("Verify(%s.pub, payload.json, %s.sig) = %v", name, name, err)
			}
			tamperedPayload := bytes.Replace(payload, []byte("busybox"), []byte("busyb0x"), 1)
			tamperedSig := append([]byte{}, sig...)
			tamperedSig[len(sig)/2] ^= 1
			other := vectors[(i+1)%len(vectors)]
			for _, bad := range []struct {
				name         string
				pub          crypto.PublicKey
				payload, sig []byte
			}{
				{"tampered payload", pub, tamperedPayload, sig},
				{"tampered signature", pub, payload, tamperedSig},
				{"truncated signature", pub, payload, sig[:len(sig)-1]},
				{"empty signature", pub, payload, nil},
				{"base64 signature", pub, payload, readFile(t, name+".sig")},
				{"key " + other, publicKey(t, other), payload, sig},
				{"key ecdsa-p256, signature " + other, publicKey(t, "ecdsa-p256"), payload, signature(t, other)},
			} {
				if bad.name == "key ecdsa-p256, signature ecdsa-p256" {
					continue // that pair is good
				}
				if err := Verify(bad.pub, bad.payload, bad.sig); !errors.Is(err, ErrBadSignature) {
					t.Errorf("%s: Verify = %v, want ErrBadSignature", bad.name, err)
				}
			}
		})
	}
}

func TestVerifyRejectsKey(t *testing.T) {
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, pub := range []crypto.PublicKey{nil, x25519.PublicKey(), ed25519.PublicKey("short"), "not a key"} {
		if err := Verify(pub, []byte("x"), []byte("y")); err == nil || errors.Is(err, ErrBadSignature) {
			t.Errorf("Verify(%T) = %v, want an error about the key", pub, err)
		}
	}
}

func TestLoadPrivateKey(t *testing.T) {
	for _, name := range vectors {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // scrypt takes a tenth of a second per try
			key := readFile(t, name+".key")
			signer, err := LoadPrivateKey(key, []byte(password))
			if err != nil {
				t.Fatalf("LoadPrivateKey(%s.key) = %v", name, err)
			}
			if !publicKeyEqual(signer.Public(), publicKey(t, name)) {
				t.Errorf("LoadPrivateKey(%s.key) gives a key whose public half is not %s.pub", name, name)
			}
			for _, pw := range []string{"", "imgsave-tesT", password + "\n"} {
				if _, err := LoadPrivateKey(key, []byte(pw)); !errors.Is(err, ErrBadPassword) {
					t.Errorf("LoadPrivateKey(%s.key, %q) = %v, want ErrBadPassword", name, pw, err)
				}
			}
		})
	}
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// sealedKey returns a PEM key in cosign's format with the JSON inside
// changed by edit, which gets the JSON decoded as a map.
func sealedKey(t *testing.T, edit func(map[string]any)) []byte {
	t.Helper()
	blk, _ := pem.Decode(readFile(t, "ecdsa-p256.key"))
	var m map[string]any
	if err := json.Unmarshal(blk.Bytes, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: blk.Type, Bytes: b})
}

func TestLoadPrivateKeyRejects(t *testing.T) {
	pkcs8 := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30}})
	kdf := func(m map[string]any) map[string]any { return m["kdf"].(map[string]any) }
	params := func(m map[string]any) map[string]any { return kdf(m)["params"].(map[string]any) }
	for _, tc := range []struct {
		name string
		in   []byte
		want string // in the error
	}{
		{"empty", nil, "no PEM block"},
		{"public key", readFile(t, "ecdsa-p256.pub"), `PEM block is "PUBLIC KEY"`},
		{"unencrypted PKCS #8", pkcs8, "run `cosign import-key-pair --key`"},
		// A hostile file asking scrypt for 2^40 × 8 × 128 bytes must fail
		// before any work.
		{"huge scrypt N", sealedKey(t, func(m map[string]any) { params(m)["N"] = 1 << 40 }), "scrypt parameters N=1099511627776 r=8 p=1"},
		{"huge scrypt r", sealedKey(t, func(m map[string]any) { params(m)["r"] = 1 << 20 }), "scrypt parameters"},
		{"other kdf", sealedKey(t, func(m map[string]any) { kdf(m)["name"] = "pbkdf2" }), `key derivation "pbkdf2"`},
		{"other cipher", sealedKey(t, func(m map[string]any) { m["cipher"].(map[string]any)["name"] = "aes" }), `cipher "aes"`},
		{"short nonce", sealedKey(t, func(m map[string]any) { m["cipher"].(map[string]any)["nonce"] = "AAAA" }), "nonce of 3 bytes"},
		{"unknown field", sealedKey(t, func(m map[string]any) { m["extra"] = 1 }), `unknown field "extra"`},
		{"case-folded field", sealedKey(t, func(m map[string]any) { m["Ciphertext"] = m["ciphertext"]; delete(m, "ciphertext") }), `unknown field "Ciphertext"`},
		{"missing ciphertext", sealedKey(t, func(m map[string]any) { delete(m, "ciphertext") }), `no field "ciphertext"`},
		{"null salt", sealedKey(t, func(m map[string]any) { kdf(m)["salt"] = nil }), `"salt": null`},
		{"changed ciphertext", sealedKey(t, func(m map[string]any) { m["ciphertext"] = base64.StdEncoding.EncodeToString(make([]byte, 64)) }), ErrBadPassword.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := LoadPrivateKey(tc.in, []byte(password))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadPrivateKey = %T, %v; want an error with %q", key, err, tc.want)
			}
		})
	}
}

// TestSign signs with every key, checks the signature with Verify and, when
// a cosign binary is at hand, with `cosign verify-blob`.
func TestSign(t *testing.T) {
	cosign := os.Getenv("IMGSAVE_COSIGN")
	payload := NewPayload("registry.example/imgsave/sign", "sha256:"+strings.Repeat("ab", 32))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "payload.json"), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range vectors {
		t.Run(name, func(t *testing.T) {
			key, err := LoadPrivateKey(readFile(t, name+".key"), []byte(password))
			if err != nil {
				t.Fatal(err)
			}
			sig, err := Sign(key, payload)
			if err != nil {
				t.Fatalf("Sign = %v", err)
			}
			if err := Verify(publicKey(t, name), payload, sig); err != nil {
				t.Errorf("Verify(Sign(payload)) = %v", err)
			}
			if err := Verify(publicKey(t, name), append(payload, ' '), sig); !errors.Is(err, ErrBadSignature) {
				t.Errorf("Verify(other payload, Sign(payload)) = %v, want ErrBadSignature", err)
			}
			t.Run("cosign verify-blob", func(t *testing.T) {
				if cosign == "" {
					if os.Getenv("IMGSAVE_E2E") == "1" {
						t.Fatal("IMGSAVE_E2E=1 but IMGSAVE_COSIGN is not set to a cosign binary")
					}
					t.Skip("IMGSAVE_COSIGN not set")
				}
				sigFile := filepath.Join(dir, name+".sig")
				if err := os.WriteFile(sigFile, []byte(base64.StdEncoding.EncodeToString(sig)), 0o644); err != nil {
					t.Fatal(err)
				}
				pubFile, err := filepath.Abs(filepath.Join("testdata", name+".pub"))
				if err != nil {
					t.Fatal(err)
				}
				verify := func() ([]byte, error) {
					return exec.Command(cosign, "verify-blob", "--key", pubFile, "--signature", sigFile, "--insecure-ignore-tlog", filepath.Join(dir, "payload.json")).CombinedOutput()
				}
				out, err := verify()
				if err != nil || !bytes.Contains(out, []byte("Verified OK")) {
					t.Errorf("cosign verify-blob --key %s: %v\n%s", pubFile, err, out)
				}
				// And cosign does check: a changed signature fails.
				sig[len(sig)/2] ^= 1
				if err := os.WriteFile(sigFile, []byte(base64.StdEncoding.EncodeToString(sig)), 0o644); err != nil {
					t.Fatal(err)
				}
				if out, err := verify(); err == nil {
					t.Errorf("cosign verify-blob --key %s accepts a changed signature\n%s", pubFile, out)
				}
			})
		})
	}
}

// TestSignRejectsKey: a signer of a key cosign does not use, or one that
// signs otherwise than cosign, gives an error and no signature.
func TestSignRejectsKey(t *testing.T) {
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ed, err := LoadPrivateKey(readFile(t, "ed25519.key"), []byte(password))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  crypto.Signer
	}{
		{"P-224", p224},
		{"Ed25519ph", ed25519ph{ed.(ed25519.PrivateKey)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if sig, err := Sign(tc.key, []byte("payload")); err == nil {
				t.Errorf("Sign = %x, nil; want an error", sig)
			}
		})
	}
}

// ed25519ph signs Ed25519ph whatever it is asked, as a misbehaving signer
// (an HSM configured so) might.
type ed25519ph struct{ ed25519.PrivateKey }

func (k ed25519ph) Sign(r io.Reader, msg []byte, _ crypto.SignerOpts) ([]byte, error) {
	h := crypto.SHA512.New()
	h.Write(msg)
	return k.PrivateKey.Sign(r, h.Sum(nil), &ed25519.Options{Hash: crypto.SHA512})
}

// TestKeyBoundDocumented: the "What is bounded" table (docs/security.md) says the key
// file bound of the code (#28).
func TestKeyBoundDocumented(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "security.md"))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("| a key file (`--verify-key`, `verify --key`, `sign --key`) | %d KiB, read through the bound", MaxKeyFile>>10); !strings.Contains(string(b), want) {
		t.Errorf("docs/security.md has no row %q", want)
	}
}
