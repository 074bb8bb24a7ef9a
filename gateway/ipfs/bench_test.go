package ipfs_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medshare/medshare/gateway/ipfs"
	"github.com/medshare/medshare/internal/kubo"
	"github.com/medshare/medshare/internal/kubo/kubotest"
)

// BenchmarkAdd measures adding distinct objects to one kubo daemon at a
// fixed concurrency: Add (pinned in the same call), AddNoPin, and AddTx
// followed by commit (the gateway's upload). It reports objects/s, MB/s and
// the average and 99th-percentile latency. Fix the count per run, e.g.
//
//	go test -run '^$' -bench BenchmarkAdd -benchtime 2000x ./gateway/ipfs/
//
// (the daemon's repository grows by count × size for each case).
func BenchmarkAdd(b *testing.B) {
	for _, ds := range []string{kubo.DatastoreFlatfs, kubo.DatastorePebble} {
		b.Run("datastore="+ds, func(b *testing.B) {
			s := kubotest.Start(b, 1, kubotest.Options{Datastore: ds})
			c := newClient(b, s.Nodes[0].APIAddr())
			for _, size := range []int{4 << 10, 300 << 10} {
				for _, conc := range []int{32, 100, 250} {
					for _, mode := range []string{"pin", "nopin", "tx"} {
						b.Run(fmt.Sprintf("size=%dKiB/conc=%d/%s", size>>10, conc, mode), func(b *testing.B) {
							benchAdd(b, c, size, conc, mode)
						})
					}
				}
			}
		})
	}
}

var objectSeq atomic.Uint64

func benchAdd(b *testing.B, c *ipfs.Client, size, conc int, mode string) {
	base := random(b, size)
	ctx := context.Background()
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	for range conc {
		wg.Go(func() {
			data := slices.Clone(base)
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				// Distinct content per object, as ciphertexts are.
				binary.BigEndian.PutUint64(data, objectSeq.Add(1))
				binary.BigEndian.PutUint64(data[8:], uint64(time.Now().UnixNano()))
				t0 := time.Now()
				var err error
				switch mode {
				case "pin":
					_, err = c.Add(ctx, data)
				case "nopin":
					_, err = c.AddNoPin(ctx, data)
				case "tx":
					var commit func()
					if _, commit, _, err = c.AddTx(ctx, data); err == nil {
						commit()
					}
				}
				lat[i] = time.Since(t0)
				if err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d adds failed", f, b.N)
	}
	slices.Sort(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "objects/s")
	b.ReportMetric(float64(sum.Milliseconds())/float64(b.N), "avg-ms")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
}
