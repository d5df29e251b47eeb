// Package registrytest serves a registry whose answers a test may script:
// for tests of imgsave's registry client against hostile or broken
// registries.
//
// A [Hostile] is go-containerregistry's in-memory registry (which speaks
// the distribution API) behind an httptest server, with a script that sees
// each request first and may answer it itself: the real registry does not
// misbehave on demand. [New] pushes an image to it. The package imports
// nothing of imgsave's, so that the tests of loader/registry, inside that
// package, can use it as well as those of the packages above.
package registrytest
