// Package checkdigit computes the check digits the corpus generators put
// on the identifiers they make. It is written apart from the scanner's
// validators on purpose: a corpus must not inherit a bug from the code it
// measures.
package checkdigit

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
