package registry

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imgsave/imgsave/loader/registry/registrytest"
)

// rangeFrom is where a GET's Range header asks the blob to start.
func rangeFrom(r *http.Request) int {
	from, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(r.Header.Get("Range"), "bytes="), "-"))
	return from
}

// sendUpTo answers a GET of body from its Range on, as distribution does,
// sending bytes up to end (of the whole blob), then, short of the end,
// stalls until the client goes: nothing past the headers when end is
// where the range starts.
func sendUpTo(w http.ResponseWriter, r *http.Request, body []byte, end int) {
	from := rangeFrom(r)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)-from))
	if from > 0 {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(body)-1, len(body)))
		w.WriteHeader(http.StatusPartialContent)
	}
	if end > from {
		w.Write(body[from:end])
	}
	w.(http.Flusher).Flush()
	if end < len(body) {
		registrytest.Stall(r)
	}
}

// TestResumeStallsAtSameByte: a registry that stalls at the same byte on
// every attempt (half a layer, then nothing, whether the resumption gets
// headers or not) is left after two idle timeouts, the first attempt's
// and one resumption's, not after five resumptions of an idle timeout
// each (#28).
func TestResumeStallsAtSameByte(t *testing.T) {
	quickResume(t)
	const idle = 200 * time.Millisecond
	for _, headers := range []bool{true, false} {
		for _, jobs := range []int{1, 3} {
			t.Run(fmt.Sprintf("headers=%v/jobs=%d", headers, jobs), func(t *testing.T) {
				h := registrytest.New(t, nil)
				body := h.Blob(h.Layers[1])
				var gets atomic.Int32
				h.On(func(w http.ResponseWriter, r *http.Request) bool {
					if !h.IsLayer(r, 1) {
						return false
					}
					h.Take()
					if gets.Add(1) > 1 && !headers {
						registrytest.Stall(r)
						return true
					}
					sendUpTo(w, r, body, len(body)/2)
					return true
				})
				start := time.Now()
				_, err := pullAll(t, t.Context(), h.Ref, Options{Jobs: jobs, IdleTimeout: idle})
				took := time.Since(start)
				if !errors.Is(err, ErrStalled) || !strings.Contains(err.Error(), h.Layers[1].String()) {
					t.Fatalf("Pull = %v, want %v naming the layer", err, ErrStalled)
				}
				checkLine(t, err, h.Host)
				if n := gets.Load(); n != 2 {
					t.Errorf("%d GETs of the layer, want 2: the first and one resumption that brought nothing", n)
				}
				t.Logf("left after %v with an idle timeout of %v", took, idle)
			})
		}
	}
}

// TestResumeKeepsProgress: a registry that sends a little more of the
// layer on each attempt, then stalls, is resumed until the layer is
// whole, as a broken connection is.
func TestResumeKeepsProgress(t *testing.T) {
	quickResume(t)
	for _, jobs := range []int{1, 3} {
		t.Run(fmt.Sprintf("jobs=%d", jobs), func(t *testing.T) {
			h := registrytest.New(t, nil)
			body := h.Blob(h.Layers[1])
			var gets atomic.Int32
			h.On(func(w http.ResponseWriter, r *http.Request) bool {
				if !h.IsLayer(r, 1) {
					return false
				}
				n := int(gets.Add(1))
				// Five attempts bring a fifth each: the fifth is the end.
				sendUpTo(w, r, body, min(len(body)*n/5, len(body)))
				return true
			})
			m, err := pullAll(t, t.Context(), h.Ref, Options{Jobs: jobs, IdleTimeout: 200 * time.Millisecond})
			if err != nil {
				t.Fatalf("Pull = %v", err)
			}
			if got := m["blobs/sha256/"+h.Layers[1].Hex]; string(got) != string(body) {
				t.Errorf("the layer arrived as %d bytes, want its %d", len(got), len(body))
			}
			if n := gets.Load(); n != 5 {
				t.Errorf("%d GETs of the layer, want 5", n)
			}
		})
	}
}
