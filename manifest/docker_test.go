package manifest

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestParseDocker(t *testing.T) {
	cfg := hex64("config") + ".json"
	valid := `[{"Config":"` + cfg + `","RepoTags":["x:1"],"Layers":["a/layer.tar","b/layer.tar"]}]`
	tests := []struct {
		name string
		in   string
		want []Entry
		err  bool
		is   error
	}{
		{name: "valid", in: valid, want: []Entry{{Config: cfg, RepoTags: []string{"x:1"}, Layers: []string{"a/layer.tar", "b/layer.tar"}}}},
		{name: "oci layout", in: `[{"Config":"blobs/sha256/` + hex64("c") + `","RepoTags":null,"Layers":[]}]`,
			want: []Entry{{Config: "blobs/sha256/" + hex64("c"), Layers: []string{}}}},
		{name: "dot slash cleaned", in: `[{"Config":"./` + cfg + `","Layers":["./a/layer.tar"]}]`,
			want: []Entry{{Config: cfg, Layers: []string{"a/layer.tar"}}}},
		{name: "two images", in: `[{"Config":"a.json"},{"Config":"b.json","RepoTags":["b:1","localhost:5000/b:2"]}]`,
			want: []Entry{{Config: "a.json"}, {Config: "b.json", RepoTags: []string{"b:1", "localhost:5000/b:2"}}}},
		{name: "surrounding space", in: "\n " + valid + " \n", want: []Entry{{Config: cfg, RepoTags: []string{"x:1"}, Layers: []string{"a/layer.tar", "b/layer.tar"}}}},
		{name: "null", in: `null`, is: ErrEmpty},
		{name: "empty list", in: `[]`, is: ErrEmpty},
		{name: "empty input", in: ``, is: ErrEmpty},
		{name: "only space", in: " \n\t", is: ErrEmpty},
		{name: "object", in: `{}`, err: true},
		{name: "string", in: `"x"`, err: true},
		{name: "missing Config", in: `[{"Layers":["a/layer.tar"]}]`, err: true},
		{name: "null entry", in: `[null]`, err: true},
		{name: "empty Config", in: `[{"Config":""}]`, err: true},
		{name: "Config dotdot", in: `[{"Config":"../x.json"}]`, err: true},
		{name: "Config inner dotdot", in: `[{"Config":"a/../../x.json"}]`, err: true},
		{name: "Config absolute", in: `[{"Config":"/etc/passwd"}]`, err: true},
		{name: "Config backslash", in: `[{"Config":"..\\x.json"}]`, err: true},
		{name: "Config NUL", in: `[{"Config":"x\u0000.json"}]`, err: true},
		{name: "Config not clean", in: `[{"Config":"a//x.json"}]`, err: true},
		{name: "Layer dotdot", in: `[{"Config":"c.json","Layers":["../../etc/passwd"]}]`, err: true},
		{name: "Layer absolute", in: `[{"Config":"c.json","Layers":["/etc/passwd"]}]`, err: true},
		{name: "Layer empty", in: `[{"Config":"c.json","Layers":[""]}]`, err: true},
		{name: "Layer trailing slash", in: `[{"Config":"c.json","Layers":["a/"]}]`, err: true},
		{name: "bad RepoTag", in: `[{"Config":"c.json","RepoTags":["UPPER"]}]`, err: true},
		{name: "digest in RepoTags", in: `[{"Config":"c.json","RepoTags":["x@sha256:` + hex64("d") + `"]}]`, err: true},
		{name: "image ID in RepoTags", in: `[{"Config":"c.json","RepoTags":["sha256:` + hex64("d") + `"]}]`, err: true},
		{name: "trailing value", in: valid + ` []`, err: true},
		{name: "trailing word", in: valid + `x`, err: true},
		{name: "trailing bracket", in: valid + `]`, err: true},
		{name: "trailing brace", in: valid + `}`, err: true},
		{name: "truncated", in: valid[:len(valid)-1], err: true},
		{name: "over MaxJSON", in: valid + strings.Repeat(" ", MaxJSON-len(valid)+1), is: ErrTooLarge},
		{name: "at MaxJSON", in: valid + strings.Repeat(" ", MaxJSON-len(valid)),
			want: []Entry{{Config: cfg, RepoTags: []string{"x:1"}, Layers: []string{"a/layer.tar", "b/layer.tar"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := short(tc.in)
			got, err := ParseDocker(strings.NewReader(tc.in))
			if !checkErr(err, tc.err, tc.is) {
				t.Fatalf("ParseDocker(%q) = %v, want error %v (%v)", in, err, tc.err || tc.is != nil, tc.is)
			}
			if err == nil && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseDocker(%q) = %+v, want %+v", in, got, tc.want)
			}
		})
	}
}

func TestParseDockerRoundTrip(t *testing.T) {
	in := `[{"Config":"./c.json","RepoTags":["x:1","y:2"],"Layers":["a/layer.tar"]},{"Config":"blobs/sha256/` + hex64("c") + `","RepoTags":null,"Layers":null}]`
	entries, err := ParseDocker(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Marshal(entries)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"Config":"c.json","RepoTags":["x:1","y:2"],"Layers":["a/layer.tar"]},{"Config":"blobs/sha256/` + hex64("c") + `","RepoTags":null,"Layers":null}]`
	if string(b) != want {
		t.Errorf("Marshal(ParseDocker(%q)) = %s, want %s", in, b, want)
	}
	again, err := ParseDocker(bytes.NewReader(b))
	if err != nil || !reflect.DeepEqual(again, entries) {
		t.Errorf("ParseDocker(%s) = %+v, %v, want %+v", b, again, err, entries)
	}
}

func TestReadLimited(t *testing.T) {
	for _, n := range []int{0, 1, MaxJSON} {
		b, err := ReadLimited(bytes.NewReader(make([]byte, n)))
		if err != nil || len(b) != n {
			t.Errorf("ReadLimited(%d bytes) = %d bytes, %v, want %d bytes", n, len(b), err, n)
		}
	}
	// A stream far over the limit is not read to its end.
	r := &countingZeros{left: 1 << 40}
	if _, err := ReadLimited(r); err == nil || !checkErr(err, false, ErrTooLarge) {
		t.Errorf("ReadLimited(1 TiB) = %v, want %v", err, ErrTooLarge)
	}
	if read := 1<<40 - r.left; read > MaxJSON+1<<20 {
		t.Errorf("ReadLimited(1 TiB) read %d bytes, want about %d", read, MaxJSON)
	}
}

// countingZeros yields left zero bytes.
type countingZeros struct{ left int64 }

func (z *countingZeros) Read(p []byte) (int, error) {
	if z.left == 0 {
		return 0, nil
	}
	n := min(int64(len(p)), z.left)
	clear(p[:n])
	z.left -= n
	return int(n), nil
}

func TestMarshal(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{name: "no HTML escaping", in: map[string]string{"a": "<&>"}, want: `{"a":"<&>"}`},
		{name: "sorted keys", in: map[string]int{"b": 1, "a": 2}, want: `{"a":2,"b":1}`},
		{name: "nil slice", in: []Entry{{Config: "c"}}, want: `[{"Config":"c","RepoTags":null,"Layers":null}]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Marshal(tc.in)
			if err != nil || string(got) != tc.want {
				t.Errorf("Marshal(%v) = %s, %v, want %s", tc.in, got, err, tc.want)
			}
		})
	}
}
