package msc

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// minParallel is the smallest number of elementary jobs worth spreading
// over goroutines; every job here is at least a scalar multiplication or a
// point decompression (0.1–0.5 ms), so goroutine overhead is negligible.
const minParallel = 4

// parallel runs f(0) … f(n-1) on up to GOMAXPROCS goroutines, handing out
// indices dynamically (jobs differ in cost), unless n < minJobs. f must only
// write to state owned by its index. It returns when every call has returned.
func parallel(n, minJobs int, f func(i int)) {
	w := min(runtime.GOMAXPROCS(0), n)
	if w <= 1 || n < minJobs {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}

// chunks splits [0, n) into up to GOMAXPROCS contiguous ranges of at least
// minSize elements.
func chunks(n, minSize int) [][2]int {
	w := max(1, min(runtime.GOMAXPROCS(0), n/minSize))
	out := make([][2]int, w)
	for i := range w {
		out[i] = [2]int{i * n / w, (i + 1) * n / w}
	}
	return out
}
