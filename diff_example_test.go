package imgsave_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/imgsave/imgsave"
	"github.com/imgsave/imgsave/archive/imgdiff"
)

// Compare two images offline: the fixture, and the same root filesystem
// imported again by another engine, which wrote its own config.
func ExampleDiff() {
	ctx := context.Background()
	tmp, archived := exampleDir(ctx)
	defer os.RemoveAll(tmp)
	f, err := os.Open(filepath.Join("testdata", "oci-gzip.tar"))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	rebuilt := filepath.Join(tmp, "rebuilt")
	if _, err := imgsave.Import(ctx, f, rebuilt, imgsave.SaveOptions{}); err != nil {
		log.Fatal(err)
	}

	res, err := imgsave.Diff(ctx, archived, rebuilt, imgsave.DiffOptions{Options: imgdiff.Options{IgnoreTimestamps: true}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Verdict, res.Metadata, "equal:", res.Equal)
	for _, c := range res.Config {
		fmt.Printf("%s: %s → %s\n", c.Field, orAbsent(c.A), orAbsent(c.B))
	}
	for _, l := range res.Layers {
		fmt.Println("layer", l.Index, l.Status)
	}
	// Output:
	// different [timestamps] equal: false
	// comment: "Imported from -" → absent
	// layer 0 same
}

func orAbsent(v []byte) string {
	if v == nil {
		return "absent"
	}
	return string(v)
}
