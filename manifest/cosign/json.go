package cosign

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"unicode/utf8"
)

// checkJSON reads b as exactly one JSON value of at most limit bytes, in
// UTF-8, in which no object repeats a key. encoding/json keeps the last of repeated
// keys where other readers keep the first, so a signed document with both
// could mean one thing to cosign and another here (containers/image
// signature/json.go refuses them for the same reason).
func checkJSON(b []byte, limit int) error {
	if len(b) > limit {
		return fmt.Errorf("over %d bytes", limit)
	}
	type frame struct {
		keys    map[string]bool // nil for an array
		wantKey bool
	}
	var stack []*frame
	// valueDone notes that a value ended: the enclosing object wants a key.
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].keys != nil {
			stack[n-1].wantKey = true
		}
	}
	if len(trimSpace(b)) == 0 {
		return errors.New("empty")
	}
	// encoding/json turns invalid UTF-8 into U+FFFD; RFC 8259 section 8.1
	// requires UTF-8, so refuse rather than read something else.
	if !utf8.Valid(b) {
		return errors.New("invalid JSON: not UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			// Token reports io.EOF also inside an unfinished value; a
			// finished one returned below.
			return errors.New("invalid JSON: unexpected end")
		}
		if err != nil {
			return fmt.Errorf("invalid JSON: %w", err)
		}
		switch n := len(stack); {
		case n > 0 && stack[n-1].wantKey && tok != json.Delim('}'):
			k := tok.(string) // the decoder allows only strings here
			if stack[n-1].keys[k] {
				return fmt.Errorf("invalid JSON: key %q appears twice", k)
			}
			stack[n-1].keys[k] = true
			stack[n-1].wantKey = false
			continue
		case tok == json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, wantKey: true})
		case tok == json.Delim('['):
			stack = append(stack, &frame{})
		case tok == json.Delim(']') || tok == json.Delim('}'):
			stack = stack[:n-1]
			valueDone()
		default:
			valueDone()
		}
		if len(stack) == 0 {
			// One complete value: only white space may follow.
			if len(trimSpace(b[dec.InputOffset():])) > 0 {
				return errors.New("invalid JSON: data after the top-level value")
			}
			return nil
		}
	}
}

// trimSpace trims what JSON counts as white space, which is less than
// bytes.TrimSpace does.
func trimSpace(b []byte) []byte {
	return bytes.Trim(b, " \t\r\n")
}

// object is a JSON object read by parseObject: its members by key, exactly
// as written.
type object map[string]json.RawMessage

// parseObject reads raw, a value that passed checkJSON, as an object whose
// keys are all among required and optional, matched exactly.
// encoding/json matches keys without regard to case, so without this
// {"Type":…} would be read as "type".
func parseObject(raw json.RawMessage, required []string, optional ...string) (object, error) {
	raw = trimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	var o object
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, err
	}
	for k := range o {
		if !slices.Contains(required, k) && !slices.Contains(optional, k) {
			return nil, fmt.Errorf("unknown field %q", k)
		}
	}
	for _, k := range required {
		if _, ok := o[k]; !ok {
			return nil, fmt.Errorf("no field %q", k)
		}
	}
	return o, nil
}

// get decodes member key into v, leaving v alone when it is absent. null is
// refused: encoding/json would silently leave v alone for it too.
func (o object) get(key string, v any) error {
	raw, ok := o[key]
	if !ok {
		return nil
	}
	if bytes.Equal(raw, []byte("null")) {
		return fmt.Errorf("%q: null", key)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%q: %w", key, err)
	}
	return nil
}

// firstErr returns the first of errs that is not nil: one problem, the
// first, is the one to report.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
