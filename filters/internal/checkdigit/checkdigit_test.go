package checkdigit

import "testing"

func TestLuhn(t *testing.T) {
	for prefix, want := range map[string]byte{"411111111111111": '1', "7992739871": '3', "80840123456789": '3', "": '0'} {
		if got := Luhn(prefix); got != want {
			t.Errorf("Luhn(%q) = %c, want %c", prefix, got, want)
		}
	}
}
