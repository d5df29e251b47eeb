// Package annex speaks to git-annex: it owns the external special remote
// protocol (the remote's side of it: git-annex asks, [Serve] answers
// through a [Remote]) and the few git-annex commands imgsave runs itself
// (calckey, registerurl, initremote). It imports nothing of imgsave's.
package annex

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"strconv"
	"strings"
)

// Remote is what a special remote does; [Serve] speaks the protocol
// around it. Every method may talk back to git-annex through c while it
// runs (GETURLS, PROGRESS, DEBUG...).
type Remote interface {
	// Init is the one-time set-up of INITREMOTE, which git-annex sends for
	// `git annex initremote` and again for each `git annex enableremote`
	// (a clone's autoenable too); its error is INITREMOTE-FAILURE. The
	// remote is not yet in git config while it runs: what it records goes
	// through c ([Conn.RecordURLs]).
	Init(ctx context.Context, c *Conn) error
	// Prepare readies the remote for use; its error is PREPARE-FAILURE.
	Prepare(ctx context.Context, c *Conn) error
	// Retrieve writes key's content to file; its error is
	// TRANSFER-FAILURE, and file must then not be complete.
	Retrieve(ctx context.Context, c *Conn, key, file string) error
	// CheckPresent reports whether the remote can give key's content now;
	// an error means it cannot tell (CHECKPRESENT-UNKNOWN).
	CheckPresent(ctx context.Context, c *Conn, key string) (bool, error)
	// ClaimURL reports whether url is the remote's own.
	ClaimURL(url string) bool
	// WhereIs describes where key's content is, for git annex whereis; ""
	// for nothing to say.
	WhereIs(ctx context.Context, c *Conn, key string) string
	// Info is GETINFO's fields, in order, as name and value pairs.
	Info() [][2]string
}

// Why a remote refuses what it cannot do.
var (
	// ErrReadOnly is the answer to STORE and REMOVE.
	ErrReadOnly = errors.New("this remote only reads")
)

// Conn is git-annex's side of the conversation while a request is
// handled.
type Conn struct {
	r *bufio.Reader
	w io.Writer
	// info: git-annex listed the INFO extension, so INFO reaches the user.
	info bool
}

func (c *Conn) send(line string) error {
	_, err := io.WriteString(c.w, line+"\n")
	return err
}

func (c *Conn) readLine() (string, error) {
	line, err := c.r.ReadString('\n')
	if err != nil {
		if err == io.EOF && line == "" {
			return "", io.EOF
		}
		if err != io.EOF {
			return "", err
		}
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// values sends a request answered by VALUE lines, the last one empty.
func (c *Conn) values(req string) ([]string, error) {
	if err := c.send(req); err != nil {
		return nil, err
	}
	var out []string
	for {
		line, err := c.readLine()
		if err != nil {
			return nil, fmt.Errorf("git-annex, asked %s: %w", req, err)
		}
		v, ok := strings.CutPrefix(line, "VALUE")
		if !ok {
			return nil, fmt.Errorf("git-annex, asked %s, answered %q", req, line)
		}
		if v == "" || v == " " {
			return out, nil
		}
		out = append(out, strings.TrimPrefix(v, " "))
	}
}

// value sends a request answered by one VALUE line.
func (c *Conn) value(req string) (string, error) {
	if err := c.send(req); err != nil {
		return "", err
	}
	line, err := c.readLine()
	if err != nil {
		return "", fmt.Errorf("git-annex, asked %s: %w", req, err)
	}
	v, ok := strings.CutPrefix(line, "VALUE")
	if !ok {
		return "", fmt.Errorf("git-annex, asked %s, answered %q", req, line)
	}
	return strings.TrimPrefix(v, " "), nil
}

// URLs are the URLs recorded for key that start with prefix.
func (c *Conn) URLs(key, prefix string) ([]string, error) {
	return c.values("GETURLS " + key + " " + prefix)
}

// GitDir is the repository's git directory.
func (c *Conn) GitDir() (string, error) { return c.value("GETGITDIR") }

// SetURLPresent records that key can be had from url.
func (c *Conn) SetURLPresent(key, url string) error {
	return c.send("SETURLPRESENT " + key + " " + url)
}

// KeySize is the size key records (its "-s" field), if it records one:
// "SHA256E-s1048576--9f86d0.tar" gives 1048576.
func KeySize(key string) (int64, bool) {
	fields, _, ok := strings.Cut(key, "--")
	if !ok {
		return 0, false
	}
	for _, f := range strings.Split(fields, "-")[1:] {
		if n, ok := strings.CutPrefix(f, "s"); ok {
			size, err := strconv.ParseInt(n, 10, 64)
			return size, err == nil && size >= 0
		}
	}
	return 0, false
}

// Progress reports how many bytes of the current transfer are done.
func (c *Conn) Progress(n int64) error { return c.send("PROGRESS " + strconv.FormatInt(n, 10)) }

// KeyProgress maps the bytes read of a stream, of total expected, onto
// key's size, for a transfer whose key is not the stream: the remote reads
// a whole image for one layer's key, and git-annex shows one transfer. It
// returns a func that sends a PROGRESS at each new percent; with no total
// or no size in the key, nil.
func (c *Conn) KeyProgress(key string, total int64) func(read int64) {
	size, ok := KeySize(key)
	if !ok || total <= 0 {
		return nil
	}
	last := int64(-1)
	return func(read int64) {
		pct := share(min(max(read, 0), total), 100, total)
		if pct != last {
			last = pct
			c.Progress(share(size, pct, 100))
		}
	}
}

// share is n×num/den for 0 ≤ num ≤ den and n ≥ 0, without the overflow
// of n×num: a key's size, or a stream's, may be near MaxInt64.
func share(n, num, den int64) int64 {
	hi, lo := bits.Mul64(uint64(n), uint64(num))
	q, _ := bits.Div64(hi, lo, uint64(den)) // hi < den since num ≤ den
	return int64(q)
}

// Info shows msg to the user, when git-annex takes INFO messages (the
// INFO extension), else only under --debug.
func (c *Conn) Info(msg string) error {
	if c.info {
		return c.send("INFO " + oneLine(msg))
	}
	return c.Debug(msg)
}

// UUID is the special remote's UUID, known to git-annex also during
// INITREMOTE, before git config has it.
func (c *Conn) UUID() (string, error) { return c.value("GETUUID") }

// Debug sends a line for git-annex's --debug.
func (c *Conn) Debug(msg string) error { return c.send("DEBUG " + oneLine(msg)) }

// oneLine keeps a message on the protocol's one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Cost is what the remote answers GETCOST with: cheaper than a network
// remote (200), dearer than a local one (100).
const Cost = 150

// Serve answers git-annex's requests from in on out until in ends or ctx
// does. A request it does not know gets UNSUPPORTED-REQUEST; a broken
// conversation is an error.
func Serve(ctx context.Context, in io.Reader, out io.Writer, r Remote) error {
	c := &Conn{r: bufio.NewReader(in), w: out}
	if err := c.send("VERSION 1"); err != nil {
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, err := c.readLine()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		cmd, arg, _ := strings.Cut(line, " ")
		if err := c.handle(ctx, r, cmd, arg); err != nil {
			return err
		}
	}
}

func (c *Conn) handle(ctx context.Context, r Remote, cmd, arg string) error {
	switch cmd {
	case "EXTENSIONS":
		c.info = slices.Contains(strings.Fields(arg), "INFO")
		return c.send("EXTENSIONS INFO")
	case "INITREMOTE":
		if err := r.Init(ctx, c); err != nil {
			return c.send("INITREMOTE-FAILURE " + oneLine(err.Error()))
		}
		return c.send("INITREMOTE-SUCCESS")
	case "PREPARE":
		if err := r.Prepare(ctx, c); err != nil {
			return c.send("PREPARE-FAILURE " + oneLine(err.Error()))
		}
		return c.send("PREPARE-SUCCESS")
	case "GETCOST":
		return c.send("COST " + strconv.Itoa(Cost))
	case "GETAVAILABILITY":
		return c.send("AVAILABILITY GLOBAL")
	case "TRANSFER":
		dir, rest, _ := strings.Cut(arg, " ")
		key, file, _ := strings.Cut(rest, " ")
		switch dir {
		case "RETRIEVE":
			if err := r.Retrieve(ctx, c, key, file); err != nil {
				return c.send("TRANSFER-FAILURE RETRIEVE " + key + " " + oneLine(err.Error()))
			}
			return c.send("TRANSFER-SUCCESS RETRIEVE " + key)
		case "STORE":
			return c.send("TRANSFER-FAILURE STORE " + key + " " + ErrReadOnly.Error() + ": it gets layers from engines and registries; store the content in another remote")
		}
	case "CHECKPRESENT":
		ok, err := r.CheckPresent(ctx, c, arg)
		switch {
		case err != nil:
			return c.send("CHECKPRESENT-UNKNOWN " + arg + " " + oneLine(err.Error()))
		case ok:
			return c.send("CHECKPRESENT-SUCCESS " + arg)
		default:
			return c.send("CHECKPRESENT-FAILURE " + arg)
		}
	case "REMOVE":
		return c.send("REMOVE-FAILURE " + arg + " " + ErrReadOnly.Error() + ": an engine's or a registry's content is theirs to remove")
	case "CLAIMURL":
		if r.ClaimURL(arg) {
			return c.send("CLAIMURL-SUCCESS")
		}
		return c.send("CLAIMURL-FAILURE")
	case "CHECKURL":
		if r.ClaimURL(arg) {
			return c.send("CHECKURL-CONTENTS UNKNOWN")
		}
		return c.send("CHECKURL-FAILURE not an imgsave URL")
	case "WHEREIS":
		if s := r.WhereIs(ctx, c, arg); s != "" {
			return c.send("WHEREIS-SUCCESS " + oneLine(s))
		}
		return c.send("WHEREIS-FAILURE")
	case "GETINFO":
		for _, f := range r.Info() {
			if err := c.send("INFOFIELD " + oneLine(f[0])); err != nil {
				return err
			}
			if err := c.send("INFOVALUE " + oneLine(f[1])); err != nil {
				return err
			}
		}
		return c.send("INFOEND")
	case "ERROR":
		return fmt.Errorf("git-annex: %s", arg)
	}
	return c.send("UNSUPPORTED-REQUEST")
}
