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
//
// Each layer's goroutine takes its slot itself, in manifest order, holds
// it until its layer has been read (or everything stops) and gives it back
// itself: a slot is never released by anyone who did not take it. (The
// reader of a layer used to release a slot on Close, one never taken after
// a cancel, and then blocked for ever: issue 18.)
type spooled struct {
	cancel context.CancelFunc
	dir    string
	wg     sync.WaitGroup
	files  []*spool
}

func newSpooled(ctx context.Context, b *blobs, layers []ggcr.Descriptor, jobs int, parent string) (*spooled, error) {
	dir, err := os.MkdirTemp(parent, "imgsave-pull-")
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &spooled{cancel: cancel, dir: dir}
	for range layers {
		sp := &spool{}
		sp.cond = sync.NewCond(&sp.mu)
		sp.ctx, sp.stop = context.WithCancel(ctx)
		s.files = append(s.files, sp)
	}
	slots := make(chan struct{}, jobs)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		// One goroutine waits for a slot at a time, so that the slots go
		// in manifest order and no more than jobs+1 goroutines live.
		for i, l := range layers {
			took := make(chan bool, 1)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.files[i].run(b, l, fmt.Sprintf("%s/%d", dir, i), slots, took)
			}()
			if !<-took {
				for _, sp := range s.files[i+1:] {
					sp.finish(ctx.Err())
				}
				return
			}
		}
	}()
	return s, nil
}

func (s *spooled) next(i int) io.ReadCloser {
	return &tail{sp: s.files[i]}
}

func (s *spooled) close() {
	s.cancel()
	s.wg.Wait()
	os.RemoveAll(s.dir)
}

// spool is one layer being fetched into a file.
type spool struct {
	ctx  context.Context // ends when the layer has been read, or all stops
	stop context.CancelFunc

	mu   sync.Mutex
	cond *sync.Cond
	f    *os.File
	n    int64 // bytes in f so far
	done bool
	err  error // why the fetch ended early
}

// run takes a slot, fetches the layer into the file name, keeps the file
// until the layer has been read, then removes it and gives the slot back.
// It says on took whether it got a slot.
func (sp *spool) run(b *blobs, l ggcr.Descriptor, name string, slots chan struct{}, took chan<- bool) {
	select {
	case slots <- struct{}{}:
	case <-sp.ctx.Done():
		took <- false
		sp.finish(sp.ctx.Err())
		return
	}
	took <- true
	defer func() { <-slots }()
	f, err := os.Create(name)
	if err != nil {
		sp.finish(fmt.Errorf("spool: %w", err))
		return
	}
	defer os.Remove(name)
	defer f.Close()
	sp.mu.Lock()
	sp.f = f
	sp.mu.Unlock()
	sp.fetch(b, l, f)
	<-sp.ctx.Done()
}

// fetch copies the layer into f; the reader of the blob stops at the
// descriptor's size and at the end of sp.ctx.
func (sp *spool) fetch(b *blobs, l ggcr.Descriptor, f *os.File) {
	rc := b.open(sp.ctx, l.Digest, l.Size)
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
	sp  *spool
	off int64
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
	if rerr != nil && sp.ctx.Err() != nil {
		// Everything stopped and the layer's goroutine closed the file
		// under this read: the stop is the reason, not the closed file.
		return m, sp.ctx.Err()
	}
	return m, rerr
}

// Close lets the layer's goroutine stop its fetch, remove the file and
// give back its slot, so that the next fetch starts. It never blocks.
func (t *tail) Close() error {
	t.sp.stop()
	return nil
}
