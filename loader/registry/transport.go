package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ErrStalled is wrapped by the error of [Pull], [Describe] and [Push] when
// a registry sends (or takes) no byte for the idle timeout: before its
// answer's headers, or in the middle of a body.
var ErrStalled = errors.New("the registry stopped sending")

// DefaultIdleTimeout is how long a registry may go without sending a byte
// when [Options] gives none: long enough for a registry under load, short
// enough that git annex get, run unattended, does not hang.
const DefaultIdleTimeout = 60 * time.Second

// maxRedirects is how many redirects one request may follow, as Go's own
// http.Client allows when it is given no CheckRedirect.
const maxRedirects = 10

// idleKey carries the idle timeout of one Pull, Describe or Push in the
// context of its requests, so that the one transport serves them all.
type idleKey struct{}

func withIdleTimeout(ctx context.Context, d time.Duration) context.Context {
	if d <= 0 {
		return ctx
	}
	return context.WithValue(ctx, idleKey{}, d)
}

func idleTimeout(ctx context.Context) time.Duration {
	if d, ok := ctx.Value(idleKey{}).(time.Duration); ok {
		return d
	}
	return DefaultIdleTimeout
}

// base is go-containerregistry's transport without Go's transparent gzip:
// with it, 10 MB of gzip on the wire became 10 GiB in the spool (issue 18).
// A blob is taken as the registry stores it, never decoded on the way.
var base = func() http.RoundTripper {
	t := remote.DefaultTransport.(*http.Transport).Clone()
	t.DisableCompression = true
	return t
}()

// guarded is the transport under every exchange with a registry, pull and
// push alike (defaultTransport). It does for each request what an
// http.Client cannot be made to do for clients it does not build:
//
//   - counts redirects: go-containerregistry gives its clients a
//     CheckRedirect (SSRF protection) that replaces Go's limit of 10 and
//     counts nothing, so a registry redirecting in a loop hung a pull
//     forever while memory grew (issue 18). A request reached by more than
//     maxRedirects redirects is refused, and so is one redirected from its
//     host to another one given as a private, loopback or link-local IP
//     literal, which go-containerregistry refuses for manifests
//     (remote.checkRedirectSSRF) and imgsave's own blob client did not;
//   - asks for the identity encoding and refuses any other, so that no
//     Content-Encoding multiplies the bytes a descriptor promised;
//   - ends an exchange in which no byte moves for the idle timeout, before
//     the answer or in its body, with an error wrapping [ErrStalled].
//
// The idle clock runs only while the transport waits on the registry (a
// request body being sent, headers awaited, a body Read in progress), so a
// slow reader of the stream never trips it.
type guarded struct{ next http.RoundTripper }

func (g guarded) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := checkRedirect(req); err != nil {
		if req.Body != nil {
			req.Body.Close() // as a RoundTripper must, even when it refuses
		}
		return nil, err
	}
	idle := idleTimeout(req.Context())
	ctx, cancel := context.WithCancelCause(req.Context())
	w := &watch{
		cancel: cancel,
		idle:   idle,
		what:   fmt.Sprintf("%s %s", req.Method, req.URL.Redacted()),
	}
	req = req.Clone(ctx)
	req.Header.Set("Accept-Encoding", "identity")
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = &watchedBody{ReadCloser: req.Body, w: w}
	}
	w.arm()
	resp, err := g.next.RoundTrip(req)
	w.disarm()
	if err != nil {
		err = w.explain(ctx, err, false)
		cancel(nil)
		return nil, err
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		resp.Body.Close()
		cancel(nil)
		return nil, refused{fmt.Errorf("the registry sends the body with Content-Encoding %q, asked for none", truncate(ce, 40))}
	}
	resp.Body = &watchedBody{ReadCloser: resp.Body, w: w, ctx: ctx, response: true}
	return resp, nil
}

// checkRedirect refuses the hop after maxRedirects, and one from the
// first request's host to another one that is a private IP literal. The
// hops are counted on the request: http.Client sets Response on each
// request it makes to follow a redirect, and that response's Request is
// the request before.
func checkRedirect(req *http.Request) error {
	hops, first := 0, req
	for r := req; r.Response != nil && r.Response.Request != nil; r = r.Response.Request {
		hops++
		first = r.Response.Request
		if hops > maxRedirects {
			return refused{fmt.Errorf("stopped after %d redirects", maxRedirects)}
		}
	}
	if hops == 0 {
		return nil
	}
	from, to := first.URL.Hostname(), req.URL.Hostname()
	if to != from && privateIP(to) {
		return refused{fmt.Errorf("refusing a redirect from %q to the private or link-local address %q", from, to)}
	}
	return nil
}

// privateIP says whether host is an IP literal that is loopback, private,
// link-local or unspecified, reading the forms the system's resolver
// reads too ("127.1", "0x7f.0.0.1"), as go-containerregistry's
// internal/ipaddr does; a name is not resolved.
func privateIP(host string) bool {
	host, _, _ = strings.Cut(host, "%")
	a, err := netip.ParseAddr(host)
	if err != nil {
		var ok bool
		if a, ok = legacyIPv4(host); !ok {
			return false
		}
	}
	a = a.WithZone("").Unmap()
	return a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsPrivate() || a.IsUnspecified()
}

// legacyIPv4 reads inet_aton's forms: one to four parts, each decimal,
// octal or hex, the last filling the bytes left.
func legacyIPv4(host string) (netip.Addr, bool) {
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, p := range parts {
		bits := 8
		if i == len(parts)-1 {
			bits = 8 * (4 - i)
		}
		n, err := strconv.ParseUint(p, 0, bits)
		if err != nil {
			return netip.Addr{}, false
		}
		if i < len(parts)-1 {
			v |= n << (8 * (3 - i))
		} else {
			v |= n
		}
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// refused is an answer the transport refuses: asking again gets the same,
// so a blob's fetch is not resumed after it.
type refused struct{ error }

func (e refused) Unwrap() error { return e.error }

// watch cancels an exchange's context when the idle clock runs out.
type watch struct {
	cancel context.CancelCauseFunc
	idle   time.Duration
	what   string

	mu    sync.Mutex
	timer *time.Timer
}

var errIdle = errors.New("idle")

func (w *watch) arm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer == nil {
		w.timer = time.AfterFunc(w.idle, func() { w.cancel(errIdle) })
		return
	}
	w.timer.Reset(w.idle)
}

func (w *watch) disarm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
	}
}

// explain turns the error of an exchange the idle clock ended into one
// that says so, naming the request for a body (http.Client names it for
// an error of RoundTrip).
func (w *watch) explain(ctx context.Context, err error, body bool) error {
	if !errors.Is(context.Cause(ctx), errIdle) {
		return err
	}
	if body {
		return fmt.Errorf("%s: %w: no byte for %v", w.what, ErrStalled, w.idle)
	}
	return fmt.Errorf("%w: no byte for %v", ErrStalled, w.idle)
}

// watchedBody runs the idle clock between the Reads of a request body
// (the transport is sending what it read, or waiting to) but not during
// them: compressing and reading the layer is this side's time, not the
// registry's. For a response body it runs the clock during each Read.
type watchedBody struct {
	io.ReadCloser
	w        *watch
	ctx      context.Context
	response bool
}

func (b *watchedBody) Read(p []byte) (int, error) {
	if !b.response {
		b.w.disarm()
		n, err := b.ReadCloser.Read(p)
		b.w.arm()
		return n, err
	}
	b.w.arm()
	n, err := b.ReadCloser.Read(p)
	b.w.disarm()
	if err != nil && err != io.EOF {
		err = b.w.explain(b.ctx, err, true)
	}
	return n, err
}

func (b *watchedBody) Close() error {
	err := b.ReadCloser.Close()
	if b.response {
		b.w.disarm()
		b.w.cancel(nil)
	}
	return err
}

// truncate keeps the first n bytes of what a registry said.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
