package scan

import (
	"fmt"
	"slices"
	"testing"
)

// TestVehiclesAndDevices: VINs by their check digit, plates after a plate
// word, serial numbers after a serial word, GS1 UDIs; and look-alikes.
func TestVehiclesAndDevices(t *testing.T) {
	cases := []struct {
		text string
		want []string
	}{
		{"VIN 1HGCM82633A004352 on file", []string{"VEHICLE:1HGCM82633A004352"}},
		{"car 1M8GDM9AXKP042788 sold", []string{"VEHICLE:1M8GDM9AXKP042788"}},
		{"license plate 7ABC123; plaque d'immatriculation AB-123-CD; Kennzeichen B-MW 1234", []string{"VEHICLE:7ABC123", "VEHICLE:AB-123-CD", "VEHICLE:B-MW 1234"}},
		{"matrícula 1234 BCD, kenteken 12-ABC-3, targa AB 123 CD", []string{"VEHICLE:1234 BCD", "VEHICLE:12-ABC-3", "VEHICLE:AB 123 CD"}},
		{"pacemaker serial number PM2-334-9981; IMEI 490154203237518; Seriennummer SN4481AZ77", []string{"DEVICE:PM2-334-9981", "DEVICE:490154203237518", "DEVICE:SN4481AZ77"}},
		{"UDI (01)00844588003288(17)141120(10)7654321D(21)10", []string{"DEVICE:(01)00844588003288(17)141120(10)7654321D(21)10"}},
		// Not vehicles or devices.
		{"VIN 1HGCM82633A004353 (bad check digit); part AB-123-CD; build 1234 BCD", nil},
		{"UDI (01)00844588003289(17)141120", nil},
		{"serial killer; a serial of 12 episodes", nil},
	}
	for _, c := range cases {
		var got []string
		for _, f := range (Scanner{}).Scan([]byte(c.text)) {
			if f.Class == Vehicle || f.Class == Device {
				got = append(got, fmt.Sprintf("%s:%s", f.Class, c.text[f.Start:f.End]))
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%q: %q, want %q", c.text, got, c.want)
		}
	}
}

// FuzzVehicleValidators: the VIN and GTIN checks never panic and agree
// with a plain reading of ISO 3779 and GS1.
func FuzzVehicleValidators(f *testing.F) {
	f.Add([]byte("1HGCM82633A004352"))
	f.Add([]byte("00844588003288"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 17 {
			const letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
			vals := []int{1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9}
			sum, ok, hasLetter := 0, true, false
			for k, c := range b {
				v := -1
				if c >= '0' && c <= '9' {
					v = int(c - '0')
				}
				for m := 0; m < len(letters); m++ {
					if letters[m] == c {
						v, hasLetter = vals[m], true
					}
				}
				if v < 0 {
					ok = false
					break
				}
				sum += v * vinWeights[k]
			}
			maker := b[0] >= 'A' && b[0] <= 'Z' || b[1] >= 'A' && b[1] <= 'Z' || b[2] >= 'A' && b[2] <= 'Z'
			want := ok && hasLetter && maker && (sum%11 == 10 && b[8] == 'X' || sum%11 < 10 && int(b[8]-'0') == sum%11 && b[8] >= '0' && b[8] <= '9')
			if got := validVIN(b); got != want {
				t.Fatalf("validVIN(%q) = %v, want %v", b, got, want)
			}
		}
		gtinCheck(b)
		matchUDI(b, 0)
		matchPlate(b, 0)
	})
}
