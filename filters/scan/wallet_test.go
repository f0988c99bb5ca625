package scan_test

import (
	"testing"

	"github.com/secureai-nexus/nexus/filters/scan"
)

// TestBitcoinAddresses: valid addresses of each kind (BIP-173 and BIP-350
// test vectors, the genesis block's address), and the same strings with
// one character changed, which their checksums refuse.
func TestBitcoinAddresses(t *testing.T) {
	valid := []string{
		"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
		"3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
		"bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
		"BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
		"bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297",
	}
	for _, a := range valid {
		text := "send to " + a + " today"
		fs := scan.Scanner{}.Scan([]byte(text))
		if len(fs) != 1 || fs[0].Class != scan.CryptoWallet || text[fs[0].Start:fs[0].End] != a {
			t.Errorf("%s: %v", a, fs)
		}
		broken := []byte(a)
		k := len(broken) - 2
		if broken[k] == 'x' || broken[k] == 'X' {
			broken[k]--
		} else {
			broken[k] = map[bool]byte{true: 'X', false: 'x'}[broken[k] >= 'A' && broken[k] <= 'Z']
		}
		if fs := (scan.Scanner{}).Scan(append([]byte("send to "), broken...)); len(fs) != 0 {
			t.Errorf("%s (checksum broken): %v", broken, fs)
		}
	}
	for _, text := range []string{
		"bc1 is a code", "12345678901234567890123456789", "1111111111111111111111111111",
		"bc1qAR0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", // mixed case
	} {
		if fs := (scan.Scanner{}).Scan([]byte(text)); len(fs) != 0 {
			t.Errorf("%q: unexpected %v", text, fs)
		}
	}
}
