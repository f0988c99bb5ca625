package scan

import "testing"

// shapeAtRef is shapeAt a byte at a time, as first written.
func shapeAtRef(text []byte, i int) numericShape {
	var sh numericShape
	j := i
	for j < len(text) && isDigit(text[j]) {
		j++
	}
	sh.first = j - i
	if j < len(text) {
		sh.sep = text[j]
	}
	v6 := true
	for j = i; j < len(text) && j-i < 48; j++ {
		c := text[j]
		switch {
		case isDigit(c):
			sh.digits++
			sh.decimal++
		case c == ':':
			if v6 && j-i < 45 {
				sh.colons++
			}
		case c == '.':
		case c == ' ' || c == '-' || c == '/' || c == '(' || c == ')':
			v6 = false
		case isHex(c):
			sh.digits++
		default:
			return sh
		}
	}
	return sh
}

// FuzzShapeAt holds the eight-bytes-at-a-time shapeAt to the plain one at
// every offset of the input.
func FuzzShapeAt(f *testing.F) {
	for _, s := range []string{
		"4111 1111-1111 1111", "fe80::1ff:fe23:4567:890a", "1:2:3:4:5:6:7:8:9:a:b:c:d:e:f:0:1:2:3:4:5:6:7",
		"123456789012345678901234567890123456789012345678901234567890x", "(415) 555-0132.", "12:30\xc3\xa9", "2001:db8::7 x",
		"1.2.3.4/24 (a) :::::::::::::::::::::::::::::::::::::::::::::::::",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		for i := range text {
			if got, want := shapeAt(text, i), shapeAtRef(text, i); got != want {
				t.Fatalf("%q at %d: shapeAt = %+v, want %+v", text, i, got, want)
			}
		}
	})
}
