package imgdiff

import (
	"archive/tar"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// The option sets every pair is compared under.
var optionSets = map[string]Options{
	"default":    {},
	"timestamps": {IgnoreTimestamps: true},
	"order":      {IgnoreFileOrder: true},
	"boundaries": {IgnoreLayerBoundaries: true},
	"all":        {IgnoreTimestamps: true, IgnoreFileOrder: true, IgnoreLayerBoundaries: true},
}

// outcome is "VERDICT [METADATA] equal|unequal".
func outcome(r *Result) string {
	eq := "unequal"
	if r.Equal {
		eq = "equal"
	}
	return fmt.Sprintf("%s %v %s", r.Verdict, r.Metadata, eq)
}

// The pairs of #32, built offline: each with its outcome under each
// option set ("" for the ones that do not change it from default).
func TestCompare(t *testing.T) {
	later := t0.Add(90 * time.Minute)
	base := []member{dir("etc"), reg("etc/os-release", "ID=test\n"), dir("bin"), reg("bin/sh", "#!sh")}
	app := []member{dir("app"), reg("app/main", "v1"), reg("app/data", "data")}
	atLater := func(ms []member) []member {
		var out []member
		for _, m := range ms {
			out = append(out, m.with(func(h *tar.Header) { h.ModTime = later }))
		}
		return out
	}
	two := func(tb testing.TB, cfgAt time.Time, l0, l1 []member) image {
		return image{layers: [][]byte{mkLayer(tb, l0...), mkLayer(tb, l1...)}, config: baseConfig(cfgAt, 2)}
	}
	changed := func(ms []member, name string, f func(*tar.Header), body ...string) []member {
		out := slices.Clone(ms)
		for i, m := range out {
			if m.hdr.Name == name {
				out[i] = m.with(f)
				if len(body) > 0 {
					out[i].body, out[i].hdr.Size = body[0], int64(len(body[0]))
				}
			}
		}
		return out
	}
	nothing := func(*tar.Header) {}
	tests := []struct {
		name string
		a, b func(tb testing.TB) image
		want map[string]string // by option set; "default" required
		// files are "LAYER PATH CHANGES" (LAYER "-" when flattened)
		// under the default options, when given.
		files []string
	}{
		{
			name: "same recipe rebuilt later",
			a:    func(tb testing.TB) image { return two(tb, t0, base, app) },
			b:    func(tb testing.TB) image { return two(tb, later, atLater(base), atLater(app)) },
			want: map[string]string{
				"default":    "equal except metadata [timestamps] unequal",
				"timestamps": "equal except metadata [timestamps] equal",
				"all":        "equal except metadata [timestamps] equal",
			},
			files: []string{"0 bin mtime", "0 bin/sh mtime", "0 etc mtime", "0 etc/os-release mtime", "1 app mtime", "1 app/data mtime", "1 app/main mtime"},
		},
		{
			name: "a file changed in one layer",
			a:    func(tb testing.TB) image { return two(tb, t0, base, app) },
			b:    func(tb testing.TB) image { return two(tb, t0, base, changed(app, "app/main", nothing, "v2")) },
			want: map[string]string{
				"default": "different [] unequal",
				"all":     "different [] unequal",
			},
			files: []string{"1 app/main content"},
		},
		{
			name: "a file moved between layers",
			a:    func(tb testing.TB) image { return two(tb, t0, base, app) },
			b: func(tb testing.TB) image {
				return two(tb, t0, append(slices.Clone(base), app[2]), app[:2])
			},
			want: map[string]string{
				"default":    "equal except metadata [layer boundaries] unequal",
				"boundaries": "equal except metadata [layer boundaries] equal",
				"all":        "equal except metadata [layer boundaries] equal",
			},
			files: []string{"0 app/data added", "1 app/data removed"},
		},
		{
			name: "a whiteout and an opaque folder",
			a: func(tb testing.TB) image {
				l0 := append(slices.Clone(base), dir("tmp"), reg("tmp/x", "x"), reg("tmp/y", "y"), reg("old", "o"))
				l1 := []member{reg(".wh.old", ""), dir("tmp"), reg("tmp/.wh..wh..opq", ""), reg("tmp/z", "z")}
				return image{layers: [][]byte{mkLayer(tb, l0...), mkLayer(tb, l1...)}, config: baseConfig(t0, 2)}
			},
			b: func(tb testing.TB) image {
				l0 := append(slices.Clone(base), dir("tmp"), reg("tmp/z", "z"))
				return image{layers: [][]byte{mkLayer(tb, l0...)}, config: baseConfig(t0, 1)}
			},
			want: map[string]string{
				"default":    "equal except metadata [layer boundaries] unequal",
				"boundaries": "equal except metadata [layer boundaries] equal",
				"all":        "equal except metadata [layer boundaries] equal",
			},
		},
		{
			name: "a whiteout left out",
			a: func(tb testing.TB) image {
				return two(tb, t0, append(slices.Clone(base), reg("old", "o")), []member{reg(".wh.old", "")})
			},
			b: func(tb testing.TB) image {
				return two(tb, t0, append(slices.Clone(base), reg("old", "o")), []member{reg("keep", "")})
			},
			want: map[string]string{
				"default":    "different [] unequal",
				"boundaries": "different [] unequal",
			},
			files: []string{"1 .wh.old removed", "1 keep added"},
		},
		{
			name: "a changed mode",
			a:    func(tb testing.TB) image { return two(tb, t0, base, app) },
			b: func(tb testing.TB) image {
				return two(tb, t0, base, changed(app, "app/main", func(h *tar.Header) { h.Mode = 0o755 }))
			},
			want:  map[string]string{"default": "different [] unequal", "all": "different [] unequal"},
			files: []string{"1 app/main mode"},
		},
		{
			name: "a changed owner",
			a:    func(tb testing.TB) image { return two(tb, t0, base, app) },
			b: func(tb testing.TB) image {
				return two(tb, t0, base, changed(app, "app/main", func(h *tar.Header) { h.Uid = 1000 }))
			},
			want:  map[string]string{"default": "different [] unequal", "all": "different [] unequal"},
			files: []string{"1 app/main owner"},
		},
		{
			name: "a changed symlink target, and its time",
			a: func(tb testing.TB) image {
				return two(tb, t0, base, append(slices.Clone(app), link("app/current", "main")))
			},
			b: func(tb testing.TB) image {
				return two(tb, t0, base, append(slices.Clone(app), link("app/current", "data").with(func(h *tar.Header) { h.ModTime = later })))
			},
			want:  map[string]string{"default": "different [timestamps] unequal", "all": "different [timestamps] unequal"},
			files: []string{"1 app/current link mtime"},
		},
		{
			name: "the same filesystem in other layer boundaries",
			a: func(tb testing.TB) image {
				return image{layers: [][]byte{mkLayer(tb, append(slices.Clone(base), app...)...)}, config: baseConfig(t0, 1)}
			},
			b: func(tb testing.TB) image { return two(tb, t0, base, app) },
			want: map[string]string{
				"default":    "equal except metadata [layer boundaries] unequal",
				"boundaries": "equal except metadata [layer boundaries] equal",
				"all":        "equal except metadata [layer boundaries] equal",
			},
		},
		{
			name: "the config alone changed",
			a:    func(tb testing.TB) image { return two(tb, t0, base, app) },
			b: func(tb testing.TB) image {
				im := two(tb, t0, base, app)
				im.config["config"] = map[string]any{"Env": []string{"PATH=/usr/bin", "DEBUG=1"}, "Cmd": []string{"/bin/sh"}}
				return im
			},
			want: map[string]string{"default": "different [] unequal", "all": "different [] unequal"},
		},
		{
			name: "the config written by another engine, with empty fields",
			a:    func(tb testing.TB) image { return two(tb, t0, base, app) },
			b: func(tb testing.TB) image {
				im := two(tb, t0, base, app)
				im.config["config"] = map[string]any{"Env": []string{"PATH=/usr/bin"}, "Cmd": []string{"/bin/sh"}, "Domainname": "", "Entrypoint": nil, "Tty": false, "Volumes": map[string]any{}}
				im.config["container_config"] = map[string]any{"Hostname": "4f3c2b1a"}
				im.config["docker_version"] = "26.1.5+dfsg1"
				return im
			},
			want: map[string]string{
				"default":    "equal except metadata [config encoding] unequal",
				"boundaries": "equal except metadata [config encoding] equal",
				"all":        "equal except metadata [config encoding] equal",
			},
		},
		{
			name: "the same files written by another tar, with user names",
			a:    func(tb testing.TB) image { return two(tb, t0, base, app) },
			b: func(tb testing.TB) image {
				return two(tb, t0, base, changed(app, "app/main", func(h *tar.Header) { h.Uname, h.Gname = "root", "root" }))
			},
			want: map[string]string{
				"default":    "equal except metadata [tar encoding] unequal",
				"boundaries": "equal except metadata [tar encoding] equal",
				"all":        "equal except metadata [tar encoding] equal",
			},
		},
		{
			name: "the same files in another order",
			a:    func(tb testing.TB) image { return two(tb, t0, base, app) },
			b: func(tb testing.TB) image {
				return two(tb, t0, base, []member{app[0], app[2], app[1]})
			},
			want: map[string]string{
				"default":    "equal except metadata [file order] unequal",
				"order":      "equal except metadata [file order] equal",
				"boundaries": "equal except metadata [file order] equal",
				"all":        "equal except metadata [file order] equal",
			},
		},
		{
			name: "the same image",
			a:    func(tb testing.TB) image { return two(tb, t0, base, app) },
			b:    func(tb testing.TB) image { return two(tb, t0, base, app) },
			want: map[string]string{"default": "identical [] equal"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := writeImage(t, tc.a(t)), writeImage(t, tc.b(t))
			for _, set := range []string{"default", "timestamps", "order", "boundaries", "all"} {
				want, ok := tc.want[set]
				if !ok {
					want = tc.want["default"]
				}
				r, err := Compare(context.Background(), a, b, optionSets[set])
				if err != nil {
					t.Fatalf("Compare(%s): %v", set, err)
				}
				if got := outcome(r); got != want {
					t.Errorf("Compare(%s) = %s, want %s; files %v", set, got, want, fileLines(r))
				}
				if set == "default" && tc.files != nil {
					if got := fileLines(r); !slices.Equal(got, tc.files) {
						t.Errorf("Compare(default) files = %q, want %q", got, tc.files)
					}
				}
			}
		})
	}
}

func fileLines(r *Result) []string {
	var out []string
	for _, f := range r.Files {
		l := "-"
		if f.Layer != nil {
			l = fmt.Sprint(*f.Layer)
		}
		out = append(out, l+" "+f.Path+" "+strings.Join(f.Changes, " "))
	}
	return out
}
