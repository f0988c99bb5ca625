package keys_test

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkSeal, BenchmarkOpen and BenchmarkCopy (the baseline: what
// keeping the bytes costs without encryption) per payload size; ns/op of
// Seal or Open minus Copy, divided by KiB, is the encryption overhead
// per KiB kept.
func BenchmarkSeal(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	for _, size := range []int{1 << 10, 16 << 10} {
		pt := make([]byte, size)
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.ring.Seal(ctx, inference, pt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	for _, size := range []int{1 << 10, 16 << 10} {
		sealed, err := e.ring.Seal(ctx, inference, make([]byte, size))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.ring.Open(ctx, inference, sealed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var sink []byte

func BenchmarkCopy(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10} {
		pt := make([]byte, size)
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				sink = append([]byte(nil), pt...)
			}
		})
	}
}
