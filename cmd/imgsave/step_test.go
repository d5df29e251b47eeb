package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestStepLine (#29): a long step without bytes (the SIF build) draws one
// line, naming the step, and clears it when done, leaving no line break
// behind. events wires it only to a terminal, and not under --quiet.
func TestStepLine(t *testing.T) {
	var b bytes.Buffer
	done := stepLine(&b, "building the SIF of 0123456789ab")
	done()
	out := b.String()
	if !strings.HasPrefix(out, "\r\x1b[Kimgsave: building the SIF of 0123456789ab  0s") || !strings.HasSuffix(out, "\r\x1b[K") {
		t.Errorf("stepLine drew %q, want the step, then a cleared line", out)
	}
	if strings.Count(out, "\n") != 0 {
		t.Errorf("stepLine wrote a line break: %q", out)
	}

}
