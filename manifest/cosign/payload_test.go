package cosign

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

var (
	digestX = "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881" // of "x", in the vectors
	hexX    = strings.TrimPrefix(digestX, "sha256:")
)

// TestNewPayloadMatchesCosign: the bytes are cosign generate's.
func TestNewPayloadMatchesCosign(t *testing.T) {
	got := NewPayload("registry.example/imgsave/busybox", digestX)
	if want := readFile(t, "payload.json"); !bytes.Equal(got, want) {
		t.Errorf("NewPayload = %s\nwant (cosign generate) %s", got, want)
	}
}

func TestParsePayload(t *testing.T) {
	for _, tc := range []struct {
		file     string
		optional map[string]any
	}{
		{"payload.json", nil},
		{"payload-annotated.json", map[string]any{"foo": "bar", "n": "1"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			p, err := ParsePayload(readFile(t, tc.file))
			if err != nil {
				t.Fatalf("ParsePayload(%s) = %v", tc.file, err)
			}
			if got := p.Critical.Identity.DockerReference; got != "registry.example/imgsave/busybox" {
				t.Errorf("docker-reference = %q", got)
			}
			if got := p.Critical.Image.DockerManifestDigest; got != digestX {
				t.Errorf("docker-manifest-digest = %q, want %q", got, digestX)
			}
			if !reflect.DeepEqual(p.Optional, tc.optional) {
				t.Errorf("optional = %#v, want %#v", p.Optional, tc.optional)
			}
		})
	}
}

func TestParsePayloadRejects(t *testing.T) {
	good, swap := swapper(t, "payload.json")
	for _, tc := range []struct {
		name string
		in   []byte
		want string // in the error
	}{
		{"empty", nil, "empty"},
		{"null", []byte("null"), "not a JSON object"},
		{"array", []byte("[]"), "not a JSON object"},
		{"truncated", []byte(good[:len(good)-1]), "unexpected end"},
		{"trailing data", []byte(good + "{}"), "data after the top-level value"},
		{"trailing comma", []byte(good + ","), "data after the top-level value"},
		{"other type", swap("cosign container image signature", "atomic container signature"), `critical.type is "atomic container signature"`},
		{"uppercase digest", swap(hexX, strings.ToUpper(hexX)), "is not a sha256 digest"},
		{"short digest", swap(hexX, hexX[1:]), "is not a sha256 digest"},
		{"sha512 digest", swap("sha256:"+hexX, "sha512:"+hexX+hexX), "is not a sha256 digest"},
		{"digest not a string", swap(`"`+digestX+`"`, "1"), "docker-manifest-digest"},
		{"null digest", swap(`"`+digestX+`"`, "null"), `"docker-manifest-digest": null`},
		{"missing image", swap(`"image":{"docker-manifest-digest":"`+digestX+`"},`, ""), `no field "image"`},
		// Two digests: encoding/json would keep the second; another reader
		// the first.
		{"digest twice", swap(`"docker-manifest-digest":"`+digestX+`"`, `"docker-manifest-digest":"`+digestX+`","docker-manifest-digest":"sha256:`+strings.Repeat("0", 64)+`"`), "appears twice"},
		{"critical twice", []byte(strings.TrimSuffix(good, "}") + `,"critical":{}}`), "appears twice"},
		// encoding/json would read "Critical" and "TYPE" as critical and type.
		{"case-folded key", swap(`"critical"`, `"Critical"`), `unknown field "Critical"`},
		{"case-folded type", swap(`"type"`, `"TYPE"`), `unknown field "TYPE"`},
		{"unknown critical field", swap(`"type":`, `"creator":"x","type":`), `unknown field "creator"`},
		{"unknown top-level field", swap(`"optional":null`, `"optional":null,"extra":1`), `unknown field "extra"`},
		{"not UTF-8", swap("busybox", "busy\xffbox"), "not UTF-8"},
		{"optional array", swap(`"optional":null`, `"optional":[]`), "optional is not an object"},
		{"too large", swap(`"optional":null`, `"optional":{"a":"`+strings.Repeat("a", maxPayload)+`"}`), "over 1048576 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePayload(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParsePayload(%.60q) = %+v, %v; want an error with %q", tc.in, p, err, tc.want)
			}
		})
	}
}

func TestParsePayloadOptional(t *testing.T) {
	for _, in := range []string{
		`{"critical":{"identity":{"docker-reference":""},"image":{"docker-manifest-digest":"` + digestX + `"},"type":"cosign container image signature"}}`,
		`{"optional":{},"critical":{"type":"cosign container image signature","image":{"docker-manifest-digest":"` + digestX + `"},"identity":{"docker-reference":"x"}}}`,
		"  \n" + string(NewPayload("", digestX)) + "\n",
	} {
		if _, err := ParsePayload([]byte(in)); err != nil {
			t.Errorf("ParsePayload(%q) = %v", in, err)
		}
	}
}

func TestTags(t *testing.T) {
	for _, tc := range []struct {
		d, sig, att string
	}{
		{digestX, "sha256-" + hexX + ".sig", "sha256-" + hexX + ".att"},
		{"sha256:" + strings.ToUpper(hexX), "", ""},
		{"sha512:" + hexX, "", ""},
		{hexX, "", ""},
		{"sha256:" + hexX + "/", "", ""},
		{"", "", ""},
	} {
		if got := SignatureTag(tc.d); got != tc.sig {
			t.Errorf("SignatureTag(%q) = %q, want %q", tc.d, got, tc.sig)
		}
		if got := AttestationTag(tc.d); got != tc.att {
			t.Errorf("AttestationTag(%q) = %q, want %q", tc.d, got, tc.att)
		}
	}
}

// swapper reads a test vector and returns it, and a function that gives it
// with one text replaced (which must be there).
func swapper(t *testing.T, name string) (string, func(old, new string) []byte) {
	t.Helper()
	good := string(readFile(t, name))
	return good, func(old, new string) []byte {
		if !strings.Contains(good, old) {
			t.Fatalf("%s has no %q", name, old)
		}
		return []byte(strings.Replace(good, old, new, 1))
	}
}
