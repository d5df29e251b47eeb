package loader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// Docker's save and load go straight to its API when imgsave talks to a
// local socket: GET /images/get streams the archive and POST /images/load
// takes one, exactly what the docker CLI would ask. Going through the CLI
// costs a process and one more copy of every byte through a pipe, which on
// a 2-core machine took 10-25% of a save's wall time next to `docker save
// >/dev/null` (#14). Podman, podman-docker's docker and remote daemons keep
// the CLI.

// streamBuffer is the size of the reads and writes on the socket: a
// chunked body is then taken in a few large reads instead of one per
// chunk the daemon wrote.
const streamBuffer = 1 << 20

// dockerSocket returns the unix socket that save and load use directly:
// docker's, where [Engine.Inspect] asks it. Podman is driven through its
// CLI, and so is a docker that is a script (a wrapper, a stand-in): it may
// do more than pass the stream on, and whoever put it there meant it to run.
func (e *Engine) dockerSocket() (string, bool) {
	if e.Name == "podman" || e.cliOnly || isScript(e.Path) {
		return "", false
	}
	return e.apiSocket()
}

// isScript reports whether the file at path starts with "#!".
func isScript(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 2)
	n, _ := io.ReadFull(f, head)
	return string(head[:n]) == "#!"
}

// socketClient talks HTTP to the daemon on the unix socket sock, reading
// through a buffer of readBuf bytes and writing through one of writeBuf
// (0 for the default, 4 KiB).
func socketClient(sock string, readBuf, writeBuf int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", sock)
			},
			DisableKeepAlives:  true,
			DisableCompression: true,
			ReadBufferSize:     readBuf,
			WriteBufferSize:    writeBuf,
		},
		// The daemon redirects "/images/../json" elsewhere; never follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// requestError classifies a failed request as the CLI's failure would be:
// the context's cause, a socket that refuses the user, or a daemon that
// does not answer; any other error is kept.
func requestError(ctx context.Context, err error, args []string) error {
	fail := func(err error, msg string) error {
		return &RunError{Args: args, Stderr: msg, Err: err}
	}
	var dial *net.OpError
	switch {
	case ctx.Err() != nil:
		return fail(context.Cause(ctx), "")
	case !errors.As(err, &dial) || dial.Op != "dial":
		return fail(err, "")
	case errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM):
		return fail(ErrPermissionDenied, dial.Error())
	}
	return fail(ErrDaemonUnreachable, dial.Error()) // refused, or no socket
}

// statusError reads the daemon's error answer (a JSON message) and
// classifies it as Classify would the CLI's stderr; a 404 the classifier
// does not know is ErrImageNotFound.
func statusError(resp *http.Response, args []string) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, stderrMax))
	var msg struct{ Message string }
	if json.Unmarshal(body, &msg) != nil || msg.Message == "" {
		msg.Message = strings.TrimSpace(string(body))
	}
	err := Classify(msg.Message)
	switch {
	case err != nil:
	case resp.StatusCode == http.StatusNotFound:
		err = ErrImageNotFound
	default:
		err = fmt.Errorf("daemon answered %s", resp.Status)
	}
	return &RunError{Args: args, Stderr: "Error response from daemon: " + msg.Message, Err: err}
}

// saveSocket asks the daemon on sock for the archive of refs. Its errors,
// a missing image included, come from the reader's Read, as the CLI's do.
func (e *Engine) saveSocket(ctx context.Context, sock string, refs []string) io.ReadCloser {
	args := append([]string{filepath.Base(e.Path), "save"}, operands(refs...)...)
	ctx, cancel := context.WithCancel(ctx)
	r := &apiSaveReader{ctx: ctx, cancel: cancel, args: args}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/images/get?"+url.Values{"names": refs}.Encode(), nil)
	if err != nil {
		r.err = &RunError{Args: args, Err: err}
		return r
	}
	resp, err := socketClient(sock, streamBuffer, 0).Do(req)
	switch {
	case err != nil:
		r.err = requestError(ctx, err, args)
	case resp.StatusCode != http.StatusOK:
		r.err = statusError(resp, args)
		resp.Body.Close()
	default:
		r.body = resp.Body
	}
	return r
}

// apiSaveReader is the body of GET /images/get with Save's contract: a
// sticky last error, a RunError for a failure, Close at any time.
type apiSaveReader struct {
	ctx    context.Context
	cancel context.CancelFunc
	args   []string
	body   io.ReadCloser // nil when err was set at once
	close  sync.Once
	err    error // sticky: the last Read's error
}

func (r *apiSaveReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.body.Read(p)
	switch {
	case err == nil || err == io.EOF:
	case r.ctx.Err() != nil:
		err = &RunError{Args: r.args, Err: context.Cause(r.ctx)}
	default:
		// The daemon failed half-way: it can only cut the stream.
		err = &RunError{Args: r.args, Err: err}
	}
	r.err = err
	return n, err
}

// Close may run while a Read is blocked: it cancels the request, which
// makes that Read (and any later one) fail, and the daemon stop.
func (r *apiSaveReader) Close() error {
	r.close.Do(func() {
		r.cancel()
		if r.body != nil {
			r.body.Close()
		}
	})
	return nil
}

// loadSocket posts r to the daemon's /images/load as a chunked body. If
// reading r fails, the body is abandoned without its last chunk, so that
// the daemon sees a broken request, never an archive that ends cleanly
// (the CLI path's rule: never close the input). It returns once the
// transport is done with r.
func (e *Engine) loadSocket(ctx context.Context, sock string, r io.Reader) (string, error) {
	args := []string{filepath.Base(e.Path), "load"}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	body := &loadBody{recordingReader: recordingReader{r: r}, done: make(chan struct{})}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://docker/images/load?quiet=1", body)
	if err != nil {
		return "", &RunError{Args: args, Err: err}
	}
	req.Header.Set("Content-Type", "application/x-tar")
	req.ContentLength = -1 // chunked
	// A write larger than the buffer goes to the socket without a copy
	// once the chunk header has been flushed.
	out, err := loadAnswer(ctx, socketClient(sock, 0, 64<<10), req, args)
	// The transport closes the body once it is done writing it, which may
	// be after Do returned (a daemon that answers early); cancelling ends
	// that write, and waiting keeps Load's promise that no Read of r
	// outlives it.
	cancel()
	<-body.done
	if body.err != nil {
		var runErr *RunError
		stderr := ""
		if errors.As(err, &runErr) {
			stderr = runErr.Stderr
		}
		return "", &RunError{Args: args, Stderr: stderr, Err: body.err}
	}
	return out, err
}

// loadAnswer sends the load request and reads the daemon's answer: a
// stream of JSON messages, "stream" lines to report and an "error" when
// the load failed.
func loadAnswer(ctx context.Context, client *http.Client, req *http.Request, args []string) (string, error) {
	resp, err := client.Do(req)
	if err != nil {
		return "", requestError(ctx, err, args)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", statusError(resp, args)
	}
	out := &tailBuffer{max: outputMax}
	dec := json.NewDecoder(io.LimitReader(resp.Body, 64<<20))
	for {
		var m struct {
			Stream      string
			Error       string
			ErrorDetail struct{ Message string }
		}
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return "", requestError(ctx, fmt.Errorf("reading the daemon's answer: %w", err), args)
		}
		msg := m.ErrorDetail.Message
		if msg == "" {
			msg = m.Error
		}
		if msg != "" {
			err := Classify(msg)
			if err == nil {
				err = errors.New("the daemon refused the archive")
			}
			return "", &RunError{Args: args, Stderr: msg, Err: err}
		}
		out.Write([]byte(m.Stream))
	}
	return strings.TrimSpace(out.String()), nil
}

// loadBody is the request body of a load: r, with its first error kept
// (recordingReader's rules), closed once the transport is done with it.
type loadBody struct {
	recordingReader
	once sync.Once
	done chan struct{}
}

// WriteTo lets the transport's copy go through r's own WriteTo when it
// has one, else copies in large pieces: the transport's own copy would use
// 32 KiB, each then a chunk header and three writes.
func (b *loadBody) WriteTo(w io.Writer) (int64, error) {
	if _, ok := b.r.(io.WriterTo); ok {
		return b.recordingReader.WriteTo(w)
	}
	return io.CopyBuffer(w, onlyReader{&b.recordingReader}, make([]byte, streamBuffer))
}

func (b *loadBody) Close() error {
	b.once.Do(func() { close(b.done) })
	return nil
}
