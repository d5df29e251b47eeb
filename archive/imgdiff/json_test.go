package imgdiff

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.json")

// The --json schema (docs/diff.md) is pinned: a change to it shows here.
func TestResultJSON(t *testing.T) {
	later := t0.Add(time.Hour)
	a := writeImage(t, image{layers: [][]byte{
		mkLayer(t, dir("etc"), reg("etc/hosts", "127.0.0.1\n"), reg("etc/motd", "hi\n"), link("etc/localtime", "/usr/share/zoneinfo/UTC")),
		mkLayer(t, dir("app"), reg("app/main", "v1"), reg("app/gone", "x")),
	}, config: baseConfig(t0, 2)})
	cfg := baseConfig(later, 2)
	cfg["config"] = map[string]any{"Env": []string{"PATH=/usr/bin", "DEBUG=1"}, "Cmd": []string{"/bin/sh"}, "Labels": map[string]string{"org.opencontainers.image.created": "now"}}
	b := writeImage(t, image{layers: [][]byte{
		mkLayer(t, dir("etc"), reg("etc/hosts", "127.0.0.1\n").with(func(h *tar.Header) { h.Mode = 0o600 }), reg("etc/motd", "hi\n").with(func(h *tar.Header) { h.ModTime = later }), link("etc/localtime", "/usr/share/zoneinfo/CET")),
		mkLayer(t, dir("app"), reg("app/main", "v2"), reg("app/new", "y")),
		mkLayer(t, reg("extra", "")),
	}, config: cfg})
	a.Name, b.Name = "./old", "./new"
	r, err := Compare(context.Background(), a, b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	enc := json.NewEncoder(&got)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "result.json")
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("JSON of the result changed (go test -run TestResultJSON -update, and say so in docs/diff.md):\n%s", got.Bytes())
	}
}
