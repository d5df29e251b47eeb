package archive

import "testing"

// FuzzParseRecordLine: a line of the record of verified files parses to a
// key and digest that print back as the same line, or not at all.
func FuzzParseRecordLine(f *testing.F) {
	f.Add(`65024 10003088 106854400 0 1796616024345902671 sha256:99b55fd50ff004234dd5e3181d5341003cb1fe60dabe003cec09b28f07c03869 "/tmp/d/blobs/sha256/99b5"`)
	f.Add(`1 2 3 4 5 sha256:99b55fd50ff004234dd5e3181d5341003cb1fe60dabe003cec09b28f07c03869 "/a b\n"`)
	f.Add(`1 2 x`)
	f.Fuzz(func(t *testing.T, line string) {
		k, d, ok := parseRecordLine(line)
		if !ok {
			return
		}
		back := recordLine(k, d)
		k2, d2, ok := parseRecordLine(back)
		if !ok || k2 != k || d2 != d {
			t.Fatalf("parseRecordLine(%q) = %+v %s, printed %q, parsed back %+v %s %v", line, k, d, back, k2, d2, ok)
		}
	})
}
