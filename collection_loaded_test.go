package imgsave

import (
	"context"
	"math/rand/v2"
	"testing"
)

// TestSharedLayersSaving: the files SharedLayers lists, each stored once
// for all the directories holding it, account for du's whole saving, and
// come largest first.
func TestSharedLayersSaving(t *testing.T) {
	root := t.TempDir()
	genCollection(t, root, 12, rand.New(rand.NewPCG(3, 5)))
	c, err := Collect(context.Background(), root, CollectOptions{SIFCache: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	shared := c.SharedLayers()
	var saving int64
	for i, l := range shared {
		if len(l.Dirs) < 2 {
			t.Errorf("%s is held by %v only", l.Digest, l.Dirs)
		}
		if i > 0 && l.Size > shared[i-1].Size {
			t.Errorf("%s (%d bytes) comes after a smaller file", l.Digest, l.Size)
		}
		saving += int64(len(l.Dirs)-1) * l.Size
	}
	if len(shared) == 0 || saving != c.Saving {
		t.Errorf("%d shared files save %d bytes, du says %d", len(shared), saving, c.Saving)
	}
}
