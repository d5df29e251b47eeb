package loader

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// daemonStandIn serves handler on a unix socket and returns a docker
// Engine whose DOCKER_HOST names it. The stand-in answers as recorded
// daemons do, for the cases a real one will not produce on demand.
func daemonStandIn(t *testing.T, handler http.HandlerFunc) *Engine {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	// Path is never run: save and load go to the socket.
	return &Engine{Path: "/nonexistent/docker", Name: "docker", Env: []string{"DOCKER_HOST=unix://" + sock}}
}

// TestSaveSocketErrors: the daemon's answers to GET /images/get are
// classified as the CLI's stderr would be, on the last Read.
func TestSaveSocketErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   error // nil: an unclassified *RunError
	}{
		{"missing image", 404, `{"message":"No such image: nosuch:1"}`, ErrImageNotFound},
		{"20.10 absent ID", 500, `{"message":"failed to get digest sha256:0123: open /var/lib/docker/image/overlay2/imagedb/content/sha256/0123: no such file or directory"}`, ErrImageNotFound},
		{"other failure", 500, `{"message":"write /var/lib/docker/tmp/x: no space left on device"}`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := daemonStandIn(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/images/get" || r.URL.Query().Get("names") != "nosuch:1" {
					t.Errorf("request %s %s, want GET /images/get?names=nosuch:1", r.Method, r.URL)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			rc, err := e.Save(t.Context(), "nosuch:1")
			if err != nil {
				t.Fatalf("Save() = %v, want the error on Read", err)
			}
			defer rc.Close()
			_, err = io.ReadAll(rc)
			var runErr *RunError
			if !errors.As(err, &runErr) || !strings.HasPrefix(err.Error(), "docker save nosuch:1: ") {
				t.Fatalf("reading Save() = %v, want a *RunError for docker save nosuch:1", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("reading Save() = %v, want %v", err, tc.want)
			}
			if tc.want == nil && Classify(err.Error()) != nil {
				t.Errorf("reading Save() = %v, want it unclassified", err)
			}
		})
	}
}

// TestSaveSocketCutStream: a daemon that fails half-way can only cut the
// stream; that is an error, never a clean end.
func TestSaveSocketCutStream(t *testing.T) {
	e := daemonStandIn(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		io.WriteString(w, strings.Repeat("x", 500))
	})
	rc, err := e.Save(t.Context(), "x:1")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(iotest.HalfReader(rc))
	var runErr *RunError
	if !errors.As(err, &runErr) || len(data) != 500 {
		t.Errorf("reading a cut save = %d bytes, %v; want 500 bytes, then a *RunError", len(data), err)
	}
}

// TestLoadSocketErrors: the daemon's error messages in a load's JSON
// answer are classified; a failed Read of the input cuts the request, so
// the daemon never sees its end.
func TestLoadSocketErrors(t *testing.T) {
	boom := errors.New("boom: digest mismatch")
	tests := []struct {
		name   string
		input  io.Reader
		answer string
		want   error
		out    string
	}{
		{name: "loaded", input: strings.NewReader("tar"), answer: `{"stream":"Loaded image: busybox:latest\n"}`, out: "Loaded image: busybox:latest"},
		{name: "content race", input: strings.NewReader("tar"), answer: `{"errorDetail":{"message":"failed to unpack loaded image: failed to extract layer sha256:1: failed to get reader from content store: content digest sha256:2: not found"},"error":"failed to unpack loaded image"}`, want: ErrContentRace},
		{name: "refused", input: strings.NewReader("tar"), answer: `{"errorDetail":{"message":"unexpected EOF"},"error":"unexpected EOF"}`},
		{name: "input fails", input: io.MultiReader(strings.NewReader("tar"), iotest.ErrReader(boom)), want: boom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sawEnd := make(chan bool, 1)
			e := daemonStandIn(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != "/images/load" {
					t.Errorf("request %s %s, want POST /images/load", r.Method, r.URL)
				}
				_, err := io.Copy(io.Discard, r.Body)
				sawEnd <- err == nil
				io.WriteString(w, tc.answer)
			})
			out, err := e.Load(t.Context(), tc.input)
			if tc.out != "" {
				if err != nil || out != tc.out {
					t.Errorf("Load() = %q, %v; want %q", out, err, tc.out)
				}
				return
			}
			var runErr *RunError
			if !errors.As(err, &runErr) || !strings.HasPrefix(err.Error(), "docker load: ") {
				t.Fatalf("Load() = %q, %v; want a *RunError for docker load", out, err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Load() = %v, want %v", err, tc.want)
			}
			// The headers go out before the body, so the handler runs.
			if errors.Is(err, boom) && <-sawEnd {
				t.Errorf("the daemon saw the end of the archive after the input failed")
			}
		})
	}
}

// TestSaveSocketUnreachable: a socket nobody listens on is
// ErrDaemonUnreachable, as the CLI's "Cannot connect" is.
func TestSaveSocketUnreachable(t *testing.T) {
	e := &Engine{Path: "/nonexistent/docker", Name: "docker", Env: []string{"DOCKER_HOST=unix://" + filepath.Join(t.TempDir(), "none.sock")}}
	rc, err := e.Save(context.Background(), "x:1")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); !errors.Is(err, ErrDaemonUnreachable) {
		t.Errorf("reading Save() = %v, want ErrDaemonUnreachable", err)
	}
	if _, err := e.Load(context.Background(), strings.NewReader("tar")); !errors.Is(err, ErrDaemonUnreachable) {
		t.Errorf("Load() = %v, want ErrDaemonUnreachable", err)
	}
}
