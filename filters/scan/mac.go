package scan

// --- MAC_ADDRESS -------------------------------------------------------

// matchMAC reads a MAC address at i: six pairs of hex digits joined by
// the same ':' or '-' (00:1A:2B:3C:4D:5E, 00-1a-2b-3c-4d-5e), or three
// groups of four joined by '.' (001a.2b3c.4d5e, Cisco's form, starting
// with a digit). The
// all-zero and broadcast addresses name no device and are not reported.
func matchMAC(text []byte, i int) (Finding, bool) {
	if i > 0 && (isAlnum(text[i-1]) || text[i-1] == ':' || text[i-1] == '-' || text[i-1] == '.') {
		return Finding{}, false
	}
	if i+14 > len(text) {
		return Finding{}, false
	}
	end := 0
	switch sep := text[i+2]; {
	case sep == ':' || sep == '-':
		if i+17 > len(text) {
			return Finding{}, false
		}
		for g := 0; g < 6; g++ {
			p := i + 3*g
			if !isHex(text[p]) || !isHex(text[p+1]) || g < 5 && text[p+2] != sep {
				return Finding{}, false
			}
		}
		end = i + 17
	case isDigit(text[i]) && isHex(text[i+2]) && text[i+4] == '.':
		// (Dotted, only when it starts with a digit: a word such as
		// "face.b00c.cafe" is more often a name than an address.)
		for g := 0; g < 3; g++ {
			p := i + 5*g
			for k := 0; k < 4; k++ {
				if !isHex(text[p+k]) {
					return Finding{}, false
				}
			}
			if g < 2 && text[p+4] != '.' {
				return Finding{}, false
			}
		}
		end = i + 14
	default:
		return Finding{}, false
	}
	if end < len(text) && (isAlnum(text[end]) || (text[end] == ':' || text[end] == '-' || text[end] == '.') && end+1 < len(text) && isHex(text[end+1])) {
		return Finding{}, false
	}
	zero, ff := true, true
	for _, c := range text[i:end] {
		if isHex(c) {
			zero = zero && c == '0'
			ff = ff && (c == 'f' || c == 'F')
		}
	}
	if zero || ff {
		return Finding{}, false
	}
	// Dotted groups of decimal digits are more often a version or an id
	// than a MAC: one needs a hex letter.
	conf := 0.9
	if text[i+4] == '.' && !hasHexLetter(text[i:end]) {
		return Finding{}, false
	}
	return Finding{Class: MACAddress, Start: i, End: end, Confidence: conf}, true
}

func hasHexLetter(b []byte) bool {
	for _, c := range b {
		if isHex(c) && !isDigit(c) {
			return true
		}
	}
	return false
}
