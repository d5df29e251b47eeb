package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// MaxJSON bounds every JSON file imgsave reads: manifests and configs of
// real images are a few KiB; a config with a long history stays well under a
// MiB. The bound keeps a hostile archive from exhausting memory.
const MaxJSON = 8 << 20

// ReadLimited reads all of r, failing with [ErrTooLarge] past [MaxJSON]
// bytes.
func ReadLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxJSON+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxJSON {
		return nil, fmt.Errorf("%w: over %d bytes", ErrTooLarge, MaxJSON)
	}
	return b, nil
}

func decode(r io.Reader, v any) error {
	b, err := ReadLimited(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return ErrEmpty
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	// Not dec.More(), which is false before a stray ']' or '}'.
	if len(bytes.TrimSpace(b[dec.InputOffset():])) > 0 {
		return fmt.Errorf("invalid JSON: data after the top-level value")
	}
	return nil
}

// Marshal renders v as imgsave writes every JSON file: compact, keys in
// struct order (maps sorted), no HTML escaping, no trailing newline, so that
// the same value always gives the same bytes and the same digest.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
