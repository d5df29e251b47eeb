package archive

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
)

// Staging a file used to read, hash, decompress, hash again and write on
// one goroutine, so that the engine's stream stalled whenever imgsave was
// hashing or writing (#14). stage now keeps reading on its own goroutine
// and hands each piece to workers of its own: one hashes the bytes as
// archived, one writes (or, for a compressed blob, one decompresses, and
// its output goes to one that hashes the content and one that writes).
// The pieces come from a small fixed pool, so memory stays flat.

const (
	// chunkSize is the piece handed from stage to its workers: small
	// enough to stay in the CPU's cache from the read to the hash and the
	// write, large enough that a slow stream does not wake every worker
	// for a few bytes. With 2 MiB pieces a save spent three times the
	// system time (0.7-0.8 s instead of 0.2 s for 300 MB) in its writes;
	// with 64 KiB a Docker 26 save (gzip layers: four workers) took 1.28
	// CPU-s instead of 1.08.
	chunkSize = 256 << 10
	// chunksInFlight bounds the pieces read and not yet consumed, per
	// stream (raw, and decompressed): 1 MiB each.
	chunksInFlight = 4
	// writebackEvery is how often a file worker asks the kernel to start
	// writing what it has written so far, so that the sync before the
	// tree is put in place finds little left to do.
	writebackEvery = 8 << 20
)

// chunk is a piece of a stream shared by the workers that consume it; the
// last to finish with it returns it to its pool.
type chunk struct {
	b    []byte
	refs sync.WaitGroup
}

// pool is a fixed set of buffers.
type pool struct{ free chan []byte }

func newPool() *pool {
	p := &pool{free: make(chan []byte, chunksInFlight)}
	for range chunksInFlight {
		p.free <- make([]byte, chunkSize)
	}
	return p
}

// worker consumes chunks on its own goroutine; after its first error it
// only releases them, so that the sender never blocks on it.
type worker struct {
	in     chan *chunk
	done   chan struct{}
	err    error
	failed atomic.Bool // set once err is
}

func startWorker(consume func([]byte) error) *worker {
	w := &worker{in: make(chan *chunk, chunksInFlight), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for c := range w.in {
			if w.err == nil {
				if w.err = consume(c.b); w.err != nil {
					w.failed.Store(true)
				}
			}
			c.refs.Done()
		}
	}()
	return w
}

// fanout sends every chunk of a stream to each of its workers.
type fanout struct {
	pool    *pool
	workers []*worker
	// stopEarly ends copy, with errWorkerFailed, at the first chunk after
	// a worker failed, instead of reading the rest of the stream for
	// nothing. Extraction reads on (a blob's digest is reported before
	// what its decompression made of it); a load stops.
	stopEarly bool
}

// errWorkerFailed is copy's error when it stopped early: wait has the
// worker's.
var errWorkerFailed = errors.New("a worker failed")

// copy reads r to its end in chunks and hands each to every worker. It
// returns the number of bytes read and r's error; a worker's error is
// reported by wait.
func (f *fanout) copy(r io.Reader) (int64, error) {
	var total int64
	for {
		if f.stopEarly && slices.ContainsFunc(f.workers, func(w *worker) bool { return w.failed.Load() }) {
			return total, errWorkerFailed
		}
		b := <-f.pool.free
		n, err := fill(r, b)
		if n > 0 {
			total += int64(n)
			c := &chunk{b: b[:n]}
			c.refs.Add(len(f.workers))
			for _, w := range f.workers {
				w.in <- c
			}
			go func() { c.refs.Wait(); f.pool.free <- b }()
		} else {
			f.pool.free <- b
		}
		switch err {
		case nil:
		case io.EOF:
			return total, nil
		default:
			return total, err
		}
	}
}

// fill reads into b until it is full or r fails; unlike io.ReadFull it
// passes r's io.EOF on as it is, so that a stream cut short (a tar
// reader's io.ErrUnexpectedEOF) is not taken for its end.
func fill(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// wait ends the workers and returns the first error of one.
func (f *fanout) wait() error {
	var errs []error
	for _, w := range f.workers {
		close(w.in)
	}
	for _, w := range f.workers {
		<-w.done
		errs = append(errs, w.err)
	}
	return firstErr(errs...)
}

// sendHashed copies r to w and into h, reading, hashing and writing on
// three goroutines, so that w is never kept waiting while a piece is
// hashed or read, and the disk is read while the last piece is still
// being sent (#23: a load left the engine idle that long). Memory is the
// pool's. It stops at w's first error and returns the bytes read. A nil h
// is no hash: a file already verified is still read while it is sent.
func sendHashed(w io.Writer, r io.Reader, h hash.Hash) (int64, error) {
	f := &fanout{pool: newPool(), stopEarly: true, workers: []*worker{
		startWorker(func(b []byte) error { _, err := w.Write(b); return err }),
	}}
	if h != nil {
		f.workers = append(f.workers, hashWorker(h))
	}
	n, err := f.copy(r)
	if werr := f.wait(); werr != nil {
		return n, werr
	}
	return n, err
}

func hashWorker(h hash.Hash) *worker {
	return startWorker(func(b []byte) error { h.Write(b); return nil })
}

// fileWorker writes the chunks to f and, with writeback, starts the
// kernel's writeback every writebackEvery bytes, without waiting for it.
func fileWorker(f *os.File, writeback bool) *worker {
	var off, started int64
	return startWorker(func(b []byte) error {
		n, err := f.Write(b)
		off += int64(n)
		if err != nil {
			return err
		}
		if writeback && off-started >= writebackEvery {
			startWriteback(f, started, off-started)
			started = off
		}
		return nil
	})
}

// chunkReader reads the chunks a worker receives as a stream, for a
// decompressor; each chunk is released once read.
type chunkReader struct {
	in  chan *chunk
	cur *chunk
	off int
	n   int64 // bytes read so far
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for r.cur == nil {
		c, ok := <-r.in
		if !ok {
			return 0, io.EOF
		}
		if len(c.b) == 0 {
			c.refs.Done()
			continue
		}
		r.cur, r.off = c, 0
	}
	n := copy(p, r.cur.b[r.off:])
	r.off += n
	r.n += int64(n)
	if r.off == len(r.cur.b) {
		r.cur.refs.Done()
		r.cur = nil
	}
	return n, nil
}

// decompressWorker decompresses the chunks it receives on its own
// goroutine and fans the content out to a content hash and the file. It
// reports the content's size and digest state through its result.
type decompressWorker struct {
	*worker
	content hash.Hash
	size    int64
	comp    string
}

// startDecompress starts the worker, which writes the content to f
// (fileWorker's writeback). It reads the decompressor through limit (an
// expandReader whose r and compressed it sets), and stops at its next
// read once ctx ends:
// the source may be read whole long before its content is.
func startDecompress(ctx context.Context, f *os.File, writeback bool, limit *expandReader) *decompressWorker {
	d := &decompressWorker{
		worker:  &worker{in: make(chan *chunk, chunksInFlight), done: make(chan struct{})},
		content: sha256.New(),
	}
	go func() {
		defer close(d.done)
		cr := &chunkReader{in: d.in}
		// The bound grows with the compressed bytes that have arrived,
		// never with the size a tar header claims: a header saying 10 GB
		// in front of a few MB of bomb would lift it a thousandfold.
		limit.compressed = func() int64 { return cr.n }
		d.err = d.run(ctx, bufio.NewReaderSize(cr, 64<<10), f, writeback, limit)
		// Whatever follows the compressed stream, or all that is left
		// after an error, is still released so that the sender goes on.
		io.Copy(io.Discard, cr)
	}()
	return d
}

func (d *decompressWorker) run(ctx context.Context, br *bufio.Reader, f *os.File, writeback bool, limit *expandReader) error {
	dr, comp, err := decompress(br)
	if err != nil {
		return err
	}
	defer dr.Close()
	d.comp = comp
	limit.r = dr
	out := &fanout{pool: newPool(), workers: []*worker{hashWorker(d.content), fileWorker(f, writeback)}}
	n, err := out.copy(contextReader{ctx, limit})
	d.size = n
	return firstErr(err, out.wait())
}
