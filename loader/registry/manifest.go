package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ErrManifest is wrapped by the error of [Pull] and [Describe] when what
// the registry serves as a manifest is none imgsave reads: empty, an HTML
// page, not JSON, a Docker schema 1 manifest, or of a type it does not know.
var ErrManifest = errors.New("not a manifest imgsave reads")

// kind says what the manifest raw is, from its own mediaType field, else
// the Content-Type it came with, else the fields it has (an OCI manifest
// may omit mediaType); what is no image or index is an error saying what
// it is instead. Go-containerregistry trusts the Content-Type alone, so
// that an HTML page failed as "invalid character '<'", an empty body as
// "EOF", and a schema 1 manifest sent as application/json passed as an
// image without layers (issue 18).
func kind(raw []byte, contentType types.MediaType) (types.MediaType, error) {
	body := bytes.TrimSpace(raw)
	switch {
	case len(body) == 0:
		return "", fmt.Errorf("%w: the registry sends an empty manifest", ErrManifest)
	case body[0] == '<':
		return "", fmt.Errorf("%w: the registry sends an HTML or XML page (Content-Type %q), not a manifest", ErrManifest, truncate(string(contentType), 80))
	}
	var m struct {
		SchemaVersion int               `json:"schemaVersion"`
		MediaType     types.MediaType   `json:"mediaType"`
		Manifests     json.RawMessage   `json:"manifests"`
		Config        json.RawMessage   `json:"config"`
		FSLayers      []json.RawMessage `json:"fsLayers"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return "", fmt.Errorf("%w: the manifest is not JSON (%v), it begins %q", ErrManifest, err, prefix(body, 32))
	}
	if m.SchemaVersion == 1 || m.FSLayers != nil || contentType == types.DockerManifestSchema1 || contentType == types.DockerManifestSchema1Signed ||
		m.MediaType == types.DockerManifestSchema1 || m.MediaType == types.DockerManifestSchema1Signed {
		return "", fmt.Errorf("%w: a Docker schema 1 manifest, which imgsave does not read (push the image again with a current engine)", ErrManifest)
	}
	if m.SchemaVersion != 2 {
		return "", fmt.Errorf("%w: schemaVersion %d, want 2", ErrManifest, m.SchemaVersion)
	}
	mt := m.MediaType
	if mt == "" && known(contentType) {
		mt = contentType
	}
	if mt == "" {
		switch {
		case m.Manifests != nil:
			mt = types.OCIImageIndex
		case m.Config != nil:
			mt = types.OCIManifestSchema1
		}
	}
	if !known(mt) {
		return "", fmt.Errorf("%w: media type %q, want an image manifest or an index", ErrManifest, truncate(string(mt), 80))
	}
	return mt, nil
}

func known(mt types.MediaType) bool {
	switch mt {
	case types.OCIImageIndex, types.DockerManifestList, types.OCIManifestSchema1, types.DockerManifestSchema2:
		return true
	}
	return false
}

// prefix is the first n bytes of b, cut at a character.
func prefix(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return string(b[:n]) + "…"
}

// maxErr bounds what an error of this package says: much of it comes from
// the registry (its error bodies, the platforms of an index), and a hostile
// one printed 680 KB on one line.
const maxErr = 1024

// lineError is an error said in one line of at most maxErr bytes.
type lineError struct {
	msg string
	err error
}

func (e *lineError) Error() string { return e.msg }
func (e *lineError) Unwrap() error { return e.err }

// oneLine returns err said in one line, control characters as spaces, cut
// to maxErr bytes; errors.Is and As still see err.
func oneLine(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, msg)
	if clean == msg && len(msg) <= maxErr {
		return err
	}
	return &lineError{msg: prefix([]byte(clean), maxErr), err: err}
}
