package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// How long a registry may ask to be left alone (Retry-After on a 429 or
// 503) before the answer is taken as a refusal, and how often.
const (
	maxRetryAfter   = 60 * time.Second
	retryAfterTries = 5
)

// How often a blob whose connection breaks is resumed, and the pause
// before the first resumption (doubling after).
var (
	resumeTries = 5
	resumePause = 500 * time.Millisecond
)

// maxIdleEnds is how many attempts at a blob may end in the idle timeout
// with no new byte between them: a registry that stalls at the same byte
// every time is left after two idle timeouts (the attempt that stalled
// there and one resumption that brought nothing), not after resumeTries
// of them (#28). Attempts that bring bytes before they stall are resumed
// as broken ones are.
const maxIdleEnds = 2

// retryAfter is the transport under every request: it waits out a 429 or
// 503 for as long as the registry's Retry-After says, then asks again.
// Without a Retry-After, or one over maxRetryAfter, the answer goes up as
// it is (go-containerregistry then backs off on its own for its requests).
type retryAfter struct{ next http.RoundTripper }

// defaultTransport is the transport of every exchange with a registry,
// Pull's, Describe's and Push's: Retry-After honoured, manifests and
// configs capped, and under them the redirect limit, the identity encoding
// and the idle timeout of guarded.
var defaultTransport http.RoundTripper = retryAfter{capped{guarded{base}}}

// maxSmall is the most a manifest, an index or a config may be, as
// imgsave's own reader of them allows (manifest.MaxJSON).
const maxSmall = 8 << 20

// layerKey marks the requests of a layer's fetch in their context: the
// only answers allowed to be larger than maxSmall, but for those capKey
// gives another bound.
type layerKey struct{}

// capKey carries, in a request's context, the bound of its answer in
// place of maxSmall: MaxEvidenceBlob for the blobs of evidence.
type capKey struct{}

// capped refuses, before go-containerregistry reads it into memory, an
// answer larger than maxSmall to anything but a layer's fetch: a manifest
// or config of gigabytes from a hostile registry.
type capped struct{ next http.RoundTripper }

func (t capped) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || req.Context().Value(layerKey{}) != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	limit, what := int64(maxSmall), "a manifest or config"
	if c, ok := req.Context().Value(capKey{}).(int64); ok {
		limit, what = c, "a blob of evidence"
	}
	if resp.ContentLength > limit {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: the registry sends %d bytes; %s is at most %d", req.URL.Redacted(), resp.ContentLength, what, limit)
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, url: req.URL.Redacted(), limit: limit, left: limit, what: what}
	return resp, nil
}

type limitedBody struct {
	io.ReadCloser
	url         string
	limit, left int64
	what        string
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p[:min(int64(len(p)), b.left+1)])
	b.left -= int64(n)
	if b.left < 0 {
		return 0, fmt.Errorf("GET %s: the registry sends more than %d bytes; %s is at most %[2]d", b.url, b.limit, b.what)
	}
	return n, err
}

func (t retryAfter) RoundTrip(req *http.Request) (*http.Response, error) {
	for try := 0; ; try++ {
		resp, err := t.next.RoundTrip(req)
		if err != nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) ||
			try == retryAfterTries || (req.Body != nil && req.GetBody == nil) {
			return resp, err
		}
		wait, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		if !ok || wait > maxRetryAfter {
			return resp, nil
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
		if err := sleep(req.Context(), wait); err != nil {
			return nil, err
		}
	}
}

// parseRetryAfter reads a Retry-After value: seconds, or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		return time.Duration(max(s, 0)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// blobs fetches a repository's blobs itself, rather than through
// go-containerregistry's layers, so that a connection that breaks half-way
// is resumed where it broke (a Range request) instead of starting over or
// failing.
type blobs struct {
	client *http.Client
	base   string // scheme://host/v2/REPO/blobs/
}

func newBlobs(ctx context.Context, r name.Reference) (*blobs, error) {
	repo := r.Context()
	client, err := newClient(ctx, repo)
	if err != nil {
		return nil, err
	}
	return &blobs{client: client, base: fmt.Sprintf("%s://%s/v2/%s/blobs/", repo.Scheme(), repo.RegistryStr(), repo.RepositoryStr())}, nil
}

// newClient is an HTTP client for repo's registry, with the credentials
// the docker config gives (pull scope), over defaultTransport.
func newClient(ctx context.Context, repo name.Repository) (*http.Client, error) {
	auth, err := authn.DefaultKeychain.Resolve(repo)
	if err != nil {
		return nil, err
	}
	rt, err := transport.NewWithContext(ctx, repo.Registry, auth, transport.NewUserAgent(defaultTransport, "imgsave"), []string{repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, err
	}
	// The transport counts redirects (guarded), and refuses them for
	// good: http.Client's own limit would be resumed as a broken
	// connection.
	return &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}, nil
}

// open returns the blob's size bytes as the registry serves them; the
// reader of the stream checks the digest.
func (b *blobs) open(ctx context.Context, d ggcr.Hash, size int64) io.ReadCloser {
	return &resumable{ctx: context.WithValue(ctx, layerKey{}, true), b: b, url: b.base + d.String(), size: size}
}

type resumable struct {
	ctx       context.Context
	b         *blobs
	url       string
	size, off int64
	body      io.ReadCloser
	broke     error // why the last connection ended early
	tries     int   // resumptions so far
	idleEnds  int   // attempts ended by the idle timeout since the last new byte
}

func (r *resumable) Read(p []byte) (int, error) {
	if r.size < 0 {
		return 0, fmt.Errorf("GET %s: a negative size, %d", r.url, r.size)
	}
	for {
		if r.body == nil {
			if r.broke != nil && !r.pause() {
				return 0, fmt.Errorf("GET %s: %w after %d of %d bytes and %d resumptions", r.url, r.broke, r.off, r.size, r.tries)
			}
			if err := r.connect(); err != nil {
				// An HTTP answer is final (429 and 503 were waited out
				// by the transport), and so is one the transport or the
				// size refused; a registry that went away may be back.
				var terr *transport.Error
				var ref refused
				if errors.As(err, &terr) || errors.As(err, &ref) || errors.Is(err, ErrTooLong) || r.ctx.Err() != nil {
					return 0, err
				}
				r.ended(err)
				continue
			}
		}
		// One byte past the descriptor's size is read, to refuse it: a
		// layer that goes on is never spooled beyond what was promised
		// (containerd's fetcher does the same). The registry gave the
		// size: size-off+1 would overflow for MaxInt64 (#28).
		want := int64(len(p))
		if left := r.size - r.off; left < want {
			want = left + 1
		}
		n, err := r.body.Read(p[:want])
		r.off += int64(n)
		if n > 0 {
			r.idleEnds = 0
		}
		if r.off > r.size {
			return 0, fmt.Errorf("GET %s: %w (%d)", r.url, ErrTooLong, r.size)
		}
		switch {
		case err == nil:
			return n, nil
		case err == io.EOF && r.off >= r.size:
			return n, io.EOF
		case err == io.EOF:
			err = io.ErrUnexpectedEOF
		}
		// The connection broke, or ended early: the next Read resumes
		// from r.off.
		r.body.Close()
		r.body = nil
		r.ended(err)
		if n > 0 {
			return n, nil
		}
	}
}

// ended records why an attempt ended early, counting it when it ended in
// the idle timeout.
func (r *resumable) ended(err error) {
	r.broke = err
	if errors.Is(err, ErrStalled) {
		r.idleEnds++
	}
}

// pause waits before the next resumption, longer each time; false when
// there are no more, when the idle timeout ended maxIdleEnds attempts
// with no byte between them, or when ctx ended.
func (r *resumable) pause() bool {
	if r.tries >= resumeTries || r.idleEnds >= maxIdleEnds || sleep(r.ctx, resumePause<<r.tries) != nil {
		return false
	}
	r.tries++
	return true
}

// connect asks for the blob from r.off on.
func (r *resumable) connect() error {
	req, err := http.NewRequestWithContext(r.ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return err
	}
	if r.off > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", r.off))
	}
	resp, err := r.b.client.Do(req)
	if err != nil {
		return err
	}
	if err := transport.CheckError(resp, http.StatusOK, http.StatusPartialContent); err != nil {
		resp.Body.Close()
		return err
	}
	limit := r.size - r.off
	if resp.StatusCode == http.StatusOK {
		limit = r.size
	}
	if resp.ContentLength > limit {
		resp.Body.Close()
		return fmt.Errorf("GET %s: %w: Content-Length %d from byte %d, of %d", r.url, ErrTooLong, resp.ContentLength, r.off, r.size)
	}
	switch {
	case r.off > 0 && resp.StatusCode == http.StatusOK:
		// The registry ignored the range: skip what was read before.
		if _, err := io.CopyN(io.Discard, resp.Body, r.off); err != nil {
			resp.Body.Close()
			return fmt.Errorf("GET %s: %w", r.url, err)
		}
	case resp.StatusCode == http.StatusPartialContent && !strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", r.off)):
		resp.Body.Close()
		return fmt.Errorf("GET %s: asked for bytes %d on, got the range %q", r.url, r.off, resp.Header.Get("Content-Range"))
	}
	r.body = resp.Body
	return nil
}

func (r *resumable) Close() error {
	if r.body != nil {
		return r.body.Close()
	}
	return nil
}
