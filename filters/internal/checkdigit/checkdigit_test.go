package checkdigit

import "testing"

func TestLuhn(t *testing.T) {
	for prefix, want := range map[string]byte{"411111111111111": '1', "7992739871": '3', "80840123456789": '3', "": '0'} {
		if got := Luhn(prefix); got != want {
			t.Errorf("Luhn(%q) = %c, want %c", prefix, got, want)
		}
	}
}

func TestIBAN(t *testing.T) {
	// DE89 3704 0044 0532 0130 00, GB82 WEST 1234 5698 7654 32.
	if got := IBAN("DE", "370400440532013000"); got != 89 {
		t.Errorf("DE: %d, want 89", got)
	}
	if got := IBAN("GB", "WEST12345698765432"); got != 82 {
		t.Errorf("GB: %d, want 82", got)
	}
}
