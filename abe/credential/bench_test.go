package credential_test

import (
	"fmt"
	"testing"
)

// BenchmarkVerify measures the ledger's hot path: one disclosure of n tags.
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b, 16)
	for _, n := range []int{1, 4, 16} {
		d, err := f.wallet.Disclose(f.tags[:n])
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("tags=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.Verify(&f.aa.PublicKey, t0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUnmarshalVerify adds decoding, as a contract receiving bytes does.
func BenchmarkUnmarshalVerify(b *testing.B) {
	f := newFixture(b, 16)
	d, _ := f.wallet.Disclose(f.tags[:4])
	raw, _ := d.MarshalBinary()
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d, err := unmarshal(raw)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := d.Verify(&f.aa.PublicKey, t0); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkIssue(b *testing.B) {
	f := newFixture(b, 16)
	for b.Loop() {
		if _, err := issue(f); err != nil {
			b.Fatal(err)
		}
	}
}
