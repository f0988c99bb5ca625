package scan

import "crypto/sha256"

// --- CRYPTO_WALLET -----------------------------------------------------

// Bitcoin addresses, each held to its checksum: legacy and script
// addresses (base58check, starting 1 or 3) and segwit ones (bech32 or
// bech32m, starting bc1). A string of the right shape whose checksum fails
// is not reported.

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// base58Value maps a byte to its base58 digit, or 0xff. Read-only.
var base58Value = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < len(base58Alphabet); i++ {
		t[base58Alphabet[i]] = byte(i)
	}
	return t
}()

// matchBase58Address reads a legacy (1…) or script (3…) address at i.
func matchBase58Address(text []byte, i int) (Finding, bool) {
	if c := text[i]; c != '1' && c != '3' {
		return Finding{}, false
	}
	j := i
	for j < len(text) && j-i < 36 && base58Value[text[j]] != 0xff {
		j++
	}
	if n := j - i; n < 26 || n > 35 || j < len(text) && isAlnum(text[j]) {
		return Finding{}, false
	}
	// Decode into 25 bytes: version, 20-byte hash, 4-byte checksum.
	var out [25]byte
	for _, c := range text[i:j] {
		carry := int(base58Value[c])
		for k := len(out) - 1; k >= 0; k-- {
			carry += 58 * int(out[k])
			out[k] = byte(carry)
			carry >>= 8
		}
		if carry != 0 {
			return Finding{}, false // more than 25 bytes
		}
	}
	// Each leading '1' is a zero byte; the rest must fill the 25 exactly.
	if out[0] != 0x00 && out[0] != 0x05 || out[0] == 0x00 && text[i] != '1' || out[0] == 0x05 && text[i] != '3' {
		return Finding{}, false
	}
	first := sha256.Sum256(out[:21])
	second := sha256.Sum256(first[:])
	if [4]byte(second[:4]) != [4]byte(out[21:]) {
		return Finding{}, false
	}
	return Finding{Class: CryptoWallet, Start: i, End: j, Confidence: 0.95}, true
}

const bech32Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

// matchBech32Address reads a segwit address (bc1…) at i, lower or upper
// case, held to the bech32 (witness version 0) or bech32m checksum.
func matchBech32Address(text []byte, i int) (Finding, bool) {
	if !hasFoldPrefixAt(text, i, "bc1") {
		return Finding{}, false
	}
	upper := isUpper(text[i])
	var data [90]byte
	n := 0
	j := i + 3
	for j < len(text) && isAlnum(text[j]) && n < len(data) {
		c := text[j]
		if isUpper(c) != upper && !isDigit(c) {
			return Finding{}, false // mixed case
		}
		v := -1
		for k := 0; k < len(bech32Charset); k++ {
			if bech32Charset[k] == c|0x20 || bech32Charset[k] == c {
				v = k
				break
			}
		}
		if v < 0 {
			return Finding{}, false
		}
		data[n] = byte(v)
		n++
		j++
	}
	if n < 11 || n > 71 || j < len(text) && isAlnum(text[j]) {
		return Finding{}, false
	}
	// The checksum covers the expanded human-readable part "bc" and the data.
	chk := uint32(1)
	for _, v := range [...]byte{'b' >> 5, 'c' >> 5, 0, 'b' & 31, 'c' & 31} {
		chk = bech32Polymod(chk, v)
	}
	for _, v := range data[:n] {
		chk = bech32Polymod(chk, v)
	}
	if chk != 1 && chk != 0x2bc830a3 {
		return Finding{}, false
	}
	return Finding{Class: CryptoWallet, Start: i, End: j, Confidence: 0.95}, true
}

func bech32Polymod(chk uint32, v byte) uint32 {
	gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	top := chk >> 25
	chk = (chk&0x1ffffff)<<5 ^ uint32(v)
	for k := 0; k < 5; k++ {
		if top>>k&1 == 1 {
			chk ^= gen[k]
		}
	}
	return chk
}
