// Command referrers-registry serves a registry with the OCI 1.1 referrers
// API on an address of this machine, for imgsave's end-to-end tests
// (#30): cosign v3 attaches its Sigstore bundle through that API where a
// registry has it, and Debian's registry 2.8 has not. It is
// go-containerregistry's registry with WithReferrersSupport, blobs on
// disk under -dir, manifests in memory (gone when it stops).
//
// go-containerregistry v0.22.1 lists a referrer's artifact type from its
// config's media type rather than the manifest's artifactType, and does
// not filter by ?artifactType=: imgsave filters what it is told, and its
// unit tests also use a registry that follows the spec there.
//
// scripts/referrers-registry.sh builds and starts it. It sits under
// testdata, which ./... leaves out, so that it is no package of the
// module's (with an import rule) but a tool of its tests.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5002", "the address to listen on")
	dir := flag.String("dir", "", "the folder for blobs (required)")
	verbose := flag.Bool("v", false, "log each request")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "referrers-registry: -dir is required")
		os.Exit(2)
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		fmt.Fprintf(os.Stderr, "referrers-registry: %v\n", err)
		os.Exit(1)
	}
	logger := log.New(io.Discard, "", 0)
	if *verbose {
		logger = log.New(os.Stderr, "referrers-registry: ", log.LstdFlags)
	}
	h := registry.New(
		registry.WithReferrersSupport(true),
		registry.WithBlobHandler(registry.NewDiskBlobHandler(*dir)),
		registry.Logger(logger),
	)
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "referrers-registry: %v\n", err)
		os.Exit(1)
	}
	s := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	fmt.Fprintf(os.Stderr, "referrers-registry: serving on %s, blobs in %s\n", l.Addr(), *dir)
	if err := s.Serve(l); err != nil {
		fmt.Fprintf(os.Stderr, "referrers-registry: %v\n", err)
		os.Exit(1)
	}
}
