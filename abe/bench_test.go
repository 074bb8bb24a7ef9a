package abe_test

import (
	"fmt"
	"testing"

	"github.com/medshare/medshare/abe"
	"github.com/medshare/medshare/abe/abebench"
)

// BenchmarkScheme runs KeyGen, Encrypt (three levels), Decrypt (top level,
// from bytes) and DecryptAll for msc and tkn20 at 2…16 attributes, side by
// side, and reports the sizes:
//
//	go test -run='^$' -bench=Scheme -benchtime=20x ./abe
func BenchmarkScheme(b *testing.B) {
	for _, n := range []int{2, 4, 6, 8, 10, 12, 14, 16} {
		for _, name := range []string{abe.MSC, abe.TKN20} {
			s, err := abe.New(name)
			if err != nil {
				b.Fatal(err)
			}
			var c *abebench.Case
			for _, op := range abebench.Ops {
				b.Run(fmt.Sprintf("attrs=%02d/%s/%s", n, op.Name, name), func(b *testing.B) {
					if c == nil {
						if c, err = abebench.NewCase(s, n); err != nil {
							b.Fatal(err)
						}
					}
					for b.Loop() {
						if err := op.Run(c); err != nil {
							b.Fatal(err)
						}
					}
					sz := c.Sizes()
					switch op.Name {
					case "Encrypt":
						b.ReportMetric(float64(sz.Ciphertext), "ct-bytes")
					case "KeyGen":
						b.ReportMetric(float64(sz.UserKey), "key-bytes")
						b.ReportMetric(float64(sz.PublicKey), "pk-bytes")
					}
				})
			}
		}
	}
}
