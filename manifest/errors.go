package manifest

import "errors"

// ErrEmpty is returned by [ParseDocker] and [ParseIndex] for a manifest that
// lists no image, including the JSON literal null.
var ErrEmpty = errors.New("lists no image")

// ErrTooLarge is returned when a JSON file exceeds [MaxJSON] bytes.
var ErrTooLarge = errors.New("too large")
