package registry

import (
	"archive/tar"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/imgsave/imgsave/loader/registry/registrytest"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"3", 3 * time.Second, true},
		{" 0 ", 0, true},
		{"-5", 0, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"", 0, false},
		{"soon", 0, false},
	}
	for _, tc := range tests {
		got, ok := parseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v, want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// flaky is a script for a registrytest.Hostile that sees each layer GET
// with the number of earlier GETs of the same layer and lets misbehave
// answer it. Ranges are served as distribution serves them (206), unless
// the test says the registry ignores them.
type flaky struct {
	reg          http.Handler
	ignoreRanges bool
	layers       []string // the digests misbehave sees
	misbehave    func(w http.ResponseWriter, r *http.Request, n int, body []byte) bool

	mu     sync.Mutex
	gets   map[string]int
	ranges []string // the Range header of every blob GET, in order
	times  []time.Time
}

func (f *flaky) answer(w http.ResponseWriter, r *http.Request) bool {
	isLayer := false
	for _, l := range f.layers {
		isLayer = isLayer || strings.HasSuffix(r.URL.Path, "/blobs/"+l)
	}
	if r.Method != http.MethodGet || !isLayer {
		return false
	}
	f.mu.Lock()
	n := f.gets[r.URL.Path]
	f.gets[r.URL.Path]++
	f.ranges = append(f.ranges, r.Header.Get("Range"))
	f.times = append(f.times, time.Now())
	f.mu.Unlock()
	rec := httptest.NewRecorder()
	full := r.Clone(r.Context())
	full.Header.Del("Range")
	f.reg.ServeHTTP(rec, full)
	body := rec.Body.Bytes()
	if f.misbehave != nil && f.misbehave(w, r, n, body) {
		return true
	}
	var from int
	if rg := r.Header.Get("Range"); rg != "" && !f.ignoreRanges {
		from, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(body)-1, len(body)))
		w.WriteHeader(http.StatusPartialContent)
	}
	w.Write(body[from:])
	return true
}

// cut sends half of what is left of the blob, then breaks the connection.
func cut(w http.ResponseWriter, r *http.Request, body []byte) {
	from := 0
	if rg := r.Header.Get("Range"); rg != "" {
		from, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(body)-1, len(body)))
		w.WriteHeader(http.StatusPartialContent)
	}
	rest := body[from:]
	breakAfter(w, len(rest), rest[:len(rest)/2])
}

// breakAfter promises size bytes, sends part, and breaks the connection.
func breakAfter(w http.ResponseWriter, size int, part []byte) {
	w.Header().Set("Content-Length", strconv.Itoa(size))
	w.Write(part)
	w.(http.Flusher).Flush()
	panic(http.ErrAbortHandler)
}

// pullThrough pushes a two-layer image to a registry with f as its
// script and pulls it back.
func pullThrough(t *testing.T, f *flaky) (map[string][]byte, error) {
	t.Helper()
	h := registrytest.New(t, registrytest.Platform(t, nil, "amd64"))
	f.reg = h.Registry
	for _, d := range h.Layers {
		f.layers = append(f.layers, d.String())
	}
	f.gets = map[string]int{}
	h.On(f.answer) // after the push, so that f sees only the pull
	rc, err := Pull(t.Context(), h.Ref, Options{})
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return readMembers(rc)
}

// readMembers is members for streams that may fail.
func readMembers(r io.Reader) (map[string][]byte, error) {
	out := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return out, err
		}
		out[hdr.Name] = b
	}
}

func quickResume(t *testing.T) {
	old := resumePause
	resumePause = time.Millisecond
	t.Cleanup(func() { resumePause = old })
}

// TestResumeBrokenBlob: a connection that breaks mid-blob is resumed from
// where it broke, and the blob arrives whole.
func TestResumeBrokenBlob(t *testing.T) {
	quickResume(t)
	f := &flaky{misbehave: func(w http.ResponseWriter, r *http.Request, n int, body []byte) bool {
		if n > 0 {
			return false // every second try
		}
		cut(w, r, body)
		return true
	}}
	m, err := pullThrough(t, f)
	if err != nil {
		t.Fatalf("Pull through a registry that breaks each layer once = %v", err)
	}
	if len(m) == 0 {
		t.Fatal("nothing pulled")
	}
	var resumed int
	for _, rg := range f.ranges {
		if regexp.MustCompile(`^bytes=[1-9][0-9]*-$`).MatchString(rg) {
			resumed++
		}
	}
	if resumed != 2 {
		t.Errorf("blob GETs had the ranges %q, want two resumptions from where they broke", f.ranges)
	}
}

// TestResumeRangeIgnored: a registry that answers a Range request with
// the whole blob still gives the right bytes.
func TestResumeRangeIgnored(t *testing.T) {
	quickResume(t)
	f := &flaky{ignoreRanges: true, misbehave: func(w http.ResponseWriter, r *http.Request, n int, body []byte) bool {
		if n > 0 {
			return false
		}
		breakAfter(w, len(body), body[:len(body)/3])
		return true
	}}
	if _, err := pullThrough(t, f); err != nil {
		t.Fatalf("Pull = %v", err)
	}
}

// TestResumeGivesUp: a blob whose every connection breaks fails, naming
// the blob and how far it got, after a bounded number of tries.
func TestResumeGivesUp(t *testing.T) {
	quickResume(t)
	f := &flaky{misbehave: func(w http.ResponseWriter, r *http.Request, n int, body []byte) bool {
		cut(w, r, body)
		return true
	}}
	_, err := pullThrough(t, f)
	if err == nil || !regexp.MustCompile(`blobs/sha256:[0-9a-f]{64}: unexpected EOF after [0-9]+ of [0-9]+ bytes and 5 resumptions`).MatchString(err.Error()) {
		t.Fatalf("Pull = %v, want the blob named, with how far it got", err)
	}
}

// TestRetryAfter: a 429 with Retry-After is waited out as long as it says;
// one asking for more than a minute is an error at once.
func TestRetryAfter(t *testing.T) {
	t.Run("waited out", func(t *testing.T) {
		f := &flaky{misbehave: func(w http.ResponseWriter, r *http.Request, n int, body []byte) bool {
			if n > 0 {
				return false
			}
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}}
		if _, err := pullThrough(t, f); err != nil {
			t.Fatalf("Pull = %v", err)
		}
		// The GET after the 429 came no sooner than Retry-After said.
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.times) < 3 {
			t.Fatalf("%d blob GETs, want a retry", len(f.times))
		}
		var longest time.Duration
		for i := 1; i < len(f.times); i++ {
			longest = max(longest, f.times[i].Sub(f.times[i-1]))
		}
		if longest < 900*time.Millisecond {
			t.Errorf("the longest pause between blob GETs was %v, want the 1s the registry asked for", longest)
		}
	})
	t.Run("too long", func(t *testing.T) {
		f := &flaky{misbehave: func(w http.ResponseWriter, r *http.Request, n int, body []byte) bool {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}}
		_, err := pullThrough(t, f)
		if err == nil || !strings.Contains(err.Error(), "503") {
			t.Fatalf("Pull = %v, want the 503", err)
		}
	})
}

// TestParallelLayers: layers are fetched Jobs at a time, never more, and
// the spool folder is left empty; Jobs 1 streams one at a time.
func TestParallelLayers(t *testing.T) {
	for _, jobs := range []int{1, 3} {
		t.Run(strconv.Itoa(jobs), func(t *testing.T) {
			var mu sync.Mutex
			var inflight, most int
			img, err := random.Image(4096, 6)
			if err != nil {
				t.Fatal(err)
			}
			h := registrytest.New(t, img)
			h.On(func(w http.ResponseWriter, r *http.Request) bool {
				if !slices.ContainsFunc(h.Layers, func(d ggcr.Hash) bool { return registrytest.IsBlob(r, d) }) {
					return false
				}
				mu.Lock()
				inflight++
				most = max(most, inflight)
				mu.Unlock()
				time.Sleep(50 * time.Millisecond)
				h.Registry.ServeHTTP(w, r)
				mu.Lock()
				inflight--
				mu.Unlock()
				return true
			})
			spool := t.TempDir()
			rc, err := Pull(t.Context(), h.Ref, Options{Jobs: jobs, SpoolDir: spool})
			if err != nil {
				t.Fatal(err)
			}
			m := members(t, rc)
			if len(m) != 6+4 { // layers, config, manifest, index.json, oci-layout
				t.Errorf("the stream holds %d members, want 10", len(m))
			}
			if most > jobs || (jobs > 1 && most < 2) {
				t.Errorf("at most %d layers were fetched at once, want up to %d", most, jobs)
			}
			if left, _ := os.ReadDir(spool); len(left) != 0 {
				t.Errorf("the spool folder holds %v after the pull", left)
			}
		})
	}
}

// TestHugeManifest: a manifest over 8 MiB is refused before it is read
// into memory, with or without a Content-Length.
func TestHugeManifest(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.Contains(r.URL.Path, "/manifests/") {
					w.WriteHeader(http.StatusOK) // the /v2/ ping
					return
				}
				big := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","pad":"` + strings.Repeat("x", 9<<20) + `"}`
				w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
				w.Header().Set("Docker-Content-Digest", "sha256:"+strings.Repeat("0", 64))
				if !chunked {
					w.Header().Set("Content-Length", strconv.Itoa(len(big)))
				}
				w.Write([]byte(big))
			}))
			t.Cleanup(s.Close)
			u, _ := url.Parse(s.URL)
			_, err := Pull(t.Context(), u.Host+"/huge/img:1", Options{})
			if err == nil || !strings.Contains(err.Error(), "a manifest or config is at most 8388608") {
				t.Fatalf("Pull = %v, want the 8 MiB limit named", err)
			}
		})
	}
}
