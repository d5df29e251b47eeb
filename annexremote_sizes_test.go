package imgsave

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/imgsave/imgsave/loader/registry/registrytest"
)

// retrieveFrom asks the special remote for the key of the first layer of
// h's image, sized keySize, from the registry source ref; it returns the
// remote's TRANSFER answer and its PROGRESS values.
func retrieveFrom(t *testing.T, h *registrytest.Hostile, ref string, keySize int64) (string, []int64) {
	t.Helper()
	cf, err := h.Img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	src := source{ref: ref, layer: digest.Digest(cf.RootFS.DiffIDs[0].String())}
	key := fmt.Sprintf("SHA256E-s%d--%s", keySize, src.layer.Encoded())
	gitDir := t.TempDir()
	got := converse(t, nil,
		"PREPARE", "VALUE "+gitDir,
		"TRANSFER RETRIEVE "+key+" "+filepath.Join(t.TempDir(), "key"), "VALUE "+src.url(), "VALUE", "VALUE "+gitDir,
	)
	var answer string
	var progress []int64
	for _, l := range got {
		if n, ok := strings.CutPrefix(l, "PROGRESS "); ok {
			v, _ := strconv.ParseInt(n, 10, 64)
			progress = append(progress, v)
		}
		if strings.HasPrefix(l, "TRANSFER-") {
			answer = l
		}
	}
	return answer, progress
}

// TestRemoteRefusesOverflowingSizes: the special remote retrieving from a
// registry whose manifest gives a layer size of MaxInt64, or sizes whose
// sum overflows, fails the transfer with a line naming the layer; it used
// to panic in the pull's goroutine, taking git-annex's remote down (#28).
func TestRemoteRefusesOverflowingSizes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sizes []int64
		bad   int
	}{
		{"MaxInt64", []int64{math.MaxInt64}, 0},
		{"MaxInt64-1", []int64{math.MaxInt64 - 1}, 0},
		{"sum", []int64{1 << 62, 1 << 62}, 1},
		{"negative", []int64{0, -1}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := registrytest.New(t, registrytest.Platform(t, nil, "amd64"))
			m := h.Sizes(tc.sizes...)
			answer, _ := retrieveFrom(t, h, h.Host+"/hostile/img@"+m.String(), 1000)
			if !strings.HasPrefix(answer, "TRANSFER-FAILURE RETRIEVE ") || !strings.Contains(answer, h.Layers[tc.bad].String()) {
				t.Errorf("the remote answered %q, want a failure naming %s", answer, h.Layers[tc.bad])
			}
		})
	}
}

// TestRemoteProgressOfHugeKey: a key's size near MaxInt64 (git-annex
// passes whatever the key says) gives PROGRESS values that rise to it,
// never wrapped to negative ones.
func TestRemoteProgressOfHugeKey(t *testing.T) {
	h := registrytest.New(t, registrytest.Platform(t, nil, "amd64"))
	d, err := h.Img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{math.MaxInt64, math.MaxInt64 - 1, math.MaxInt64 / 3} {
		answer, progress := retrieveFrom(t, h, h.Host+"/hostile/img@"+d.String(), size)
		if !strings.HasPrefix(answer, "TRANSFER-SUCCESS") {
			t.Fatalf("the remote answered %q", answer)
		}
		if len(progress) == 0 || !slices.IsSorted(progress) || progress[0] < 0 || progress[len(progress)-1] != size {
			t.Errorf("PROGRESS for a key of %d bytes: %v, want rising values from 0 up, ending at it", size, progress)
		}
	}
}
