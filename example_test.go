package imgsave_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/imgsave/imgsave"
	"github.com/imgsave/imgsave/loader"
)

// Verify an image directory offline: every digest recomputed from the
// files, and the images it holds listed.
func ExampleVerify() {
	ctx := context.Background()
	tmp, dir := exampleDir(ctx)
	defer os.RemoveAll(tmp)

	res, err := imgsave.Verify(ctx, dir, imgsave.VerifyOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("intact:", res.OK)
	images, err := imgsave.List(ctx, dir, imgsave.ListOptions{SIFCache: tmp})
	if err != nil {
		log.Fatal(err)
	}
	for _, im := range images {
		fmt.Println(im.ConfigDigest[:19], im.Platform, len(im.Layers), "layer")
	}
	// Output:
	// intact: true
	// sha256:c0883fcd3ce7 linux/amd64 1 layer
}

// Sign an image directory with a cosign key, then check the signature
// offline, as a clone of the dataset would before a run.
func ExampleSign() {
	ctx := context.Background()
	tmp, dir := exampleDir(ctx)
	defer os.RemoveAll(tmp)
	// cosign generate-key-pair made these; the password is the key's.
	priv, err := imgsave.ReadKey(filepath.Join("manifest", "cosign", "testdata", "ecdsa-p256.key"))
	if err != nil {
		log.Fatal(err)
	}
	pub, err := imgsave.ReadKey(filepath.Join("manifest", "cosign", "testdata", "ecdsa-p256.pub"))
	if err != nil {
		log.Fatal(err)
	}

	signed, err := imgsave.Sign(ctx, dir, imgsave.SignOptions{Key: priv, Password: []byte("imgsave-test")})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("signed", len(signed), "image")
	if err := imgsave.CheckSigned(ctx, dir, imgsave.Selector{}, pub); err != nil {
		log.Fatal(err)
	}
	fmt.Println("the signature verifies")
	// Output:
	// signed 1 image
	// the signature verifies
}

// Save an image the engine holds into a directory, to commit to a
// dataset. (Needs an engine: compiled, not run.)
func ExampleSave() {
	ctx := context.Background()
	eng, err := loader.Find("") // docker, then podman, then apptainer
	if err != nil {
		log.Fatal(err)
	}
	res, err := imgsave.Save(ctx, eng, []string{"busybox:1.36"}, "img", imgsave.SaveOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("saved", res.Images[0].RepoTags, "as", res.Manifests[0])
}

// Load a directory's image into the engine unless it is there, and run a
// command in it, its exit status an error. (Needs an engine: compiled,
// not run.)
func ExampleRun() {
	ctx := context.Background()
	eng, err := loader.Find("")
	if err != nil {
		log.Fatal(err)
	}
	res, err := imgsave.Load(ctx, eng, "img", imgsave.LoadOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("the engine knows it as", res.EngineID, "loaded now:", res.Loaded)
	err = imgsave.Run(ctx, eng, "img", imgsave.RunOptions{Command: []string{"echo", "hello"}})
	if err != nil {
		log.Fatal(err)
	}
}

// Pull an image from a registry into a directory, without an engine,
// keeping the signatures and attestations the registry has for it.
// (Needs a registry: compiled, not run.)
func ExamplePull() {
	ctx := context.Background()
	p, err := imgsave.Pull(ctx, "127.0.0.1:5000/tools/align:2.1", "img", imgsave.PullOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("pulled", p.Source)
}

// exampleDir imports a checked-in save stream (a `docker save` of the OCI
// kind; [imgsave.Save] takes one from an engine) as the image directory
// dir, in the temporary folder tmp.
func exampleDir(ctx context.Context) (tmp, dir string) {
	tmp, err := os.MkdirTemp("", "imgsave-example")
	if err != nil {
		log.Fatal(err)
	}
	f, err := os.Open(filepath.Join("testdata", "oci.tar"))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	dir = filepath.Join(tmp, "img")
	if _, err := imgsave.Import(ctx, f, dir, imgsave.SaveOptions{}); err != nil {
		log.Fatal(err)
	}
	return tmp, dir
}
