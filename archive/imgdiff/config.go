package imgdiff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// timestampLabels are the labels that hold a build's time.
var timestampLabels = map[string]bool{"org.opencontainers.image.created": true, "org.label-schema.build-date": true}

// notCompared are the config's fields left out: rootfs (the layers are
// compared instead), legacy Docker's record of the build container, whose
// ID is new in every build, and the version of the Docker that wrote the
// config, which one rootfs imported by two engines differs in alone.
var notCompared = map[string]bool{"rootfs": true, "container": true, "container_config": true, "docker_version": true}

// compareConfig compares two configs field by field: the top level,
// config (the run settings), config.Labels by label, and history by
// entry and field. Other values (Env, Cmd, ExposedPorts) are compared
// whole. history counts as layer boundaries when historyIsBoundaries.
func compareConfig(a, b []byte, historyIsBoundaries bool) ([]FieldDiff, error) {
	fa, err := configFields(a)
	if err != nil {
		return nil, fmt.Errorf("config of A: %w", err)
	}
	fb, err := configFields(b)
	if err != nil {
		return nil, fmt.Errorf("config of B: %w", err)
	}
	var names []string
	for k := range fa {
		names = append(names, k)
	}
	for k := range fb {
		if _, ok := fa[k]; !ok {
			names = append(names, k)
		}
	}
	slices.SortFunc(names, compareFields)
	var out []FieldDiff
	for _, k := range names {
		va, vb := fa[k], fb[k]
		if bytes.Equal(va.value, vb.value) {
			continue
		}
		kind := va.kind
		if vb.value != nil {
			kind = vb.kind
		}
		if (va.value == nil || vb.value == nil) && kind == Timestamps && strings.HasPrefix(k, "history[") {
			kind = "history" // an entry on one side only: a step, not its time
		}
		if kind == "history" {
			kind = ""
			if historyIsBoundaries {
				kind = LayerBoundaries
			}
		}
		out = append(out, FieldDiff{Field: k, A: va.value, B: vb.value, Metadata: kind})
	}
	return out, nil
}

// field is one compared value of a config: its JSON, and the kind of
// metadata it is ("history" until the layers are compared).
type field struct {
	value []byte
	kind  string
}

// configFields flattens a config into its compared fields.
func configFields(b []byte) (map[string]field, error) {
	var top map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&top); err != nil {
		return nil, err
	}
	out := make(map[string]field)
	add := func(name string, v any, kind string) {
		if zero(v) {
			return // Docker 20 writes "Domainname": "", Docker 26 nothing
		}
		j, _ := json.Marshal(v) // values decoded from JSON encode again
		out[name] = field{j, kind}
	}
	for k, v := range top {
		if notCompared[k] {
			continue
		}
		switch {
		case k == "created":
			add(k, v, Timestamps)
		case k == "config":
			m, ok := v.(map[string]any)
			if !ok {
				add(k, v, "")
				continue
			}
			for ck, cv := range m {
				labels, ok := cv.(map[string]any)
				if ck != "Labels" || !ok {
					add("config"+key(ck), cv, "")
					continue
				}
				for l, lv := range labels {
					kind := ""
					if timestampLabels[l] {
						kind = Timestamps
					}
					add("config.Labels["+strconv.Quote(l)+"]", lv, kind)
				}
			}
		case k == "history":
			h, ok := v.([]any)
			if !ok {
				add(k, v, "history")
				continue
			}
			for i, e := range h {
				m, ok := e.(map[string]any)
				if !ok {
					add(fmt.Sprintf("history[%d]", i), e, "history")
					continue
				}
				for hk, hv := range m {
					kind := "history"
					if hk == "created" {
						kind = Timestamps
					}
					add(fmt.Sprintf("history[%d]%s", i, key(hk)), hv, kind)
				}
			}
		default:
			if plain(k) {
				add(k, v, "")
			} else {
				add(key(k), v, "")
			}
		}
	}
	return out, nil
}

// zero reports whether v is null, false, "", [] or {}: what one writer
// of configs leaves out and another writes.
func zero(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case string:
		return v == ""
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

// key is ".k", or `["k"]` for a key that is not a plain word.
func key(k string) string {
	if plain(k) {
		return "." + k
	}
	return "[" + strconv.Quote(k) + "]"
}

// plain reports whether k is a word of ASCII letters, digits, '_' and
// '.' that does not start with a digit or '.'.
func plain(k string) bool {
	for i, c := range []byte(k) {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c == '_':
		case (c >= '0' && c <= '9' || c == '.') && i > 0:
		default:
			return false
		}
	}
	return k != ""
}

// compareFields orders fields by name, history entries by number.
func compareFields(a, b string) int {
	ia, ra, oka := historyIndex(a)
	ib, rb, okb := historyIndex(b)
	if oka && okb {
		if ia != ib {
			return ia - ib
		}
		a, b = ra, rb
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func historyIndex(s string) (int, string, bool) {
	var i int
	var rest string
	if n, _ := fmt.Sscanf(s, "history[%d]%s", &i, &rest); n >= 1 {
		return i, rest, true
	}
	return 0, "", false
}
