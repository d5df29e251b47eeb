package manifest

import (
	"bytes"
	"fmt"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
)

// Config holds what imgsave reads of an image config; the config's bytes are
// always kept as they came, since their digest is the image ID.
type Config struct {
	Created      *time.Time `json:"created,omitempty"`
	Architecture string     `json:"architecture"`
	OS           string     `json:"os"`
	Variant      string     `json:"variant,omitempty"`
	// OSVersion and OSFeatures are set by Windows images; an index entry's
	// platform may carry them too.
	OSVersion  string   `json:"os.version,omitempty"`
	OSFeatures []string `json:"os.features,omitempty"`
	RootFS     struct {
		Type    string          `json:"type"`
		DiffIDs []digest.Digest `json:"diff_ids"`
	} `json:"rootfs"`
}

// ParseConfig reads an image config and checks its diff_ids.
func ParseConfig(r io.Reader) (*Config, error) {
	var c Config
	if err := decode(r, &c); err != nil {
		return nil, err
	}
	for i, d := range c.RootFS.DiffIDs {
		if err := CheckDigest(d); err != nil {
			return nil, fmt.Errorf("rootfs.diff_ids[%d]: %w", i, err)
		}
	}
	return &c, nil
}

// ID returns the image ID a classic-store engine gives the image whose config
// is b: the sha256 digest of the config's bytes.
func ID(config []byte) digest.Digest {
	return digest.FromBytes(config)
}

// Platform is "os/architecture[/variant]".
func (c *Config) Platform() string {
	p := c.OS + "/" + c.Architecture
	if c.Variant != "" {
		p += "/" + c.Variant
	}
	return p
}

// ConfigFromBytes is [ParseConfig] over a byte slice.
func ConfigFromBytes(b []byte) (*Config, error) {
	return ParseConfig(bytes.NewReader(b))
}
