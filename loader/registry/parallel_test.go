package registry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/v1"
)

// TestNewSpooledPreCancelled: with its context cancelled before it
// starts, the spool hands every layer an error, its readers' Close never
// blocks, and its folder is removed. Close used to give back a slot never
// taken and block for ever (23 runs out of 40).
func TestNewSpooledPreCancelled(t *testing.T) {
	b := &blobs{client: &http.Client{}, base: "http://127.0.0.1:1/v2/none/blobs/"}
	layers := make([]ggcr.Descriptor, 5)
	for i := range layers {
		layers[i] = ggcr.Descriptor{Size: 10, Digest: ggcr.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", i)}}
	}
	parent := t.TempDir()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			s, err := newSpooled(ctx, b, layers, 2, parent)
			if err != nil {
				t.Error(err)
				return
			}
			for i := range layers {
				rc := s.next(i)
				if _, err := io.ReadAll(rc); err == nil {
					t.Errorf("layer %d read whole from a cancelled spool", i)
				}
				rc.Close()
			}
			s.close()
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second): // a safety limit: it hung
		t.Fatal("a pre-cancelled spool still blocks after 20 s")
	}
	if left, _ := os.ReadDir(parent); len(left) != 0 {
		t.Errorf("%v left behind", left)
	}
}
