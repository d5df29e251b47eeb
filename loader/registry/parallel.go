package registry

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	ggcr "github.com/google/go-containerregistry/pkg/v1"
)

// layerSource hands out the layers' bytes in manifest order.
type layerSource interface {
	// next returns layer i's reader; i counts up from 0.
	next(i int) io.ReadCloser
	// close stops what is still running and removes what it kept.
	close()
}

// direct streams one layer at a time from the registry: no copy anywhere.
type direct struct {
	ctx    context.Context
	b      *blobs
	layers []ggcr.Descriptor
}

func (d direct) next(i int) io.ReadCloser {
	return d.b.open(d.ctx, d.layers[i].Digest, d.layers[i].Size)
}

func (direct) close() {}

// spooled fetches up to jobs layers at once, each into a file of its own
// under dir, while the layer due is read from its file as it grows. A file
// is removed once read, and a new fetch starts only then, so at most jobs
// compressed layers are on disk at any time; memory stays a few buffers.
type spooled struct {
	cancel context.CancelFunc
	dir    string
	wg     sync.WaitGroup
	slots  chan struct{}
	files  []*spool
}

func newSpooled(ctx context.Context, b *blobs, layers []ggcr.Descriptor, jobs int, parent string) (*spooled, error) {
	dir, err := os.MkdirTemp(parent, "imgsave-pull-")
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &spooled{cancel: cancel, dir: dir, slots: make(chan struct{}, jobs)}
	for range layers {
		sp := &spool{}
		sp.cond = sync.NewCond(&sp.mu)
		s.files = append(s.files, sp)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for i, l := range layers {
			select {
			case s.slots <- struct{}{}:
			case <-ctx.Done():
				for _, sp := range s.files[i:] {
					sp.finish(ctx.Err())
				}
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.files[i].fetch(ctx, b, l, dir, i)
			}()
		}
	}()
	return s, nil
}

func (s *spooled) next(i int) io.ReadCloser {
	return &tail{sp: s.files[i], release: func() { <-s.slots }}
}

func (s *spooled) close() {
	s.cancel()
	s.wg.Wait()
	os.RemoveAll(s.dir)
}

// spool is one layer being fetched into a file.
type spool struct {
	mu   sync.Mutex
	cond *sync.Cond
	f    *os.File
	n    int64 // bytes in f so far
	done bool
	err  error // why the fetch ended early
}

func (sp *spool) fetch(ctx context.Context, b *blobs, l ggcr.Descriptor, dir string, i int) {
	f, err := os.Create(fmt.Sprintf("%s/%d", dir, i))
	if err != nil {
		sp.finish(fmt.Errorf("spool: %w", err))
		return
	}
	sp.mu.Lock()
	sp.f = f
	sp.mu.Unlock()
	rc := b.open(ctx, l.Digest, l.Size)
	defer rc.Close()
	buf := make([]byte, 256<<10)
	for {
		n, rerr := rc.Read(buf)
		if n > 0 {
			if _, err := f.Write(buf[:n]); err != nil {
				sp.finish(fmt.Errorf("spool: %w", err))
				return
			}
			sp.mu.Lock()
			sp.n += int64(n)
			sp.cond.Broadcast()
			sp.mu.Unlock()
		}
		if rerr == io.EOF {
			sp.finish(nil)
			return
		}
		if rerr != nil {
			sp.finish(rerr)
			return
		}
	}
}

func (sp *spool) finish(err error) {
	sp.mu.Lock()
	sp.done, sp.err = true, err
	sp.cond.Broadcast()
	sp.mu.Unlock()
}

// tail reads a spool as it grows.
type tail struct {
	sp      *spool
	off     int64
	release func()
	closed  bool
}

func (t *tail) Read(p []byte) (int, error) {
	sp := t.sp
	sp.mu.Lock()
	for t.off >= sp.n && !sp.done {
		sp.cond.Wait()
	}
	f, n, done, err := sp.f, sp.n, sp.done, sp.err
	sp.mu.Unlock()
	if t.off >= n && done {
		if err != nil {
			return 0, err
		}
		return 0, io.EOF
	}
	m, rerr := f.ReadAt(p[:min(int64(len(p)), n-t.off)], t.off)
	t.off += int64(m)
	if rerr == io.EOF && m > 0 {
		rerr = nil
	}
	return m, rerr
}

// Close removes the file and lets the next fetch start.
func (t *tail) Close() error {
	if t.closed {
		return nil
	}
	t.closed = true
	sp := t.sp
	sp.mu.Lock()
	f := sp.f
	sp.mu.Unlock()
	if f != nil {
		f.Close()
		os.Remove(f.Name())
	}
	t.release()
	return nil
}
