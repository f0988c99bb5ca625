// Package checkdigit computes the check digits the corpus generators put
// on the identifiers they make. It is written apart from the scanner's
// validators on purpose: a corpus must not inherit a bug from the code it
// measures.
package checkdigit

import (
	"fmt"
	"math/big"
	"strings"
)

// Luhn returns the digit that makes prefix followed by it pass the Luhn
// check.
func Luhn(prefix string) byte {
	sum, double := 0, true
	for i := len(prefix) - 1; i >= 0; i-- {
		n := int(prefix[i] - '0')
		if double {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		double = !double
	}
	return byte('0' + (10-sum%10)%10)
}

// IBAN returns the two check digits of the IBAN of country cc and basic
// bank account number bban: 98 − (bban, cc, "00") mod 97, letters read as
// 10–35.
func IBAN(cc, bban string) int64 {
	var num strings.Builder
	for _, c := range bban + cc + "00" {
		if c >= 'A' && c <= 'Z' {
			fmt.Fprintf(&num, "%d", c-'A'+10)
		} else {
			num.WriteRune(c)
		}
	}
	n, _ := new(big.Int).SetString(num.String(), 10)
	return 98 - new(big.Int).Mod(n, big.NewInt(97)).Int64()
}
