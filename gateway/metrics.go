package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/medshare/medshare/chaincode/txbuild"
	"github.com/medshare/medshare/gateway/indexcache"
	"github.com/medshare/medshare/gateway/ledger"
)

// metrics are the gateway's Prometheus series, on its own registry.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	ledger   *prometheus.HistogramVec
	ipfs     *prometheus.HistogramVec
	accesses *prometheus.CounterVec
	pending  prometheus.Gauge
}

func newMetrics() *metrics {
	buckets := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "medshare_gateway_requests_total",
			Help: "HTTP requests by route, method and status."}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "medshare_gateway_request_duration_seconds",
			Help: "HTTP request latency by route, method and status.", Buckets: buckets}, []string{"route", "method", "status"}),
		ledger: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "medshare_gateway_ledger_seconds",
			Help: "Ledger latency: submit (until committed) and evaluate, by chaincode function and outcome.", Buckets: buckets},
			[]string{"op", "call", "outcome"}),
		ipfs: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "medshare_gateway_ipfs_seconds",
			Help: "IPFS latency by operation (add, cat, unpin) and outcome.", Buckets: buckets}, []string{"op", "outcome"}),
		accesses: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "medshare_gateway_accesses_total",
			Help: "P-TL access decisions by level and outcome (granted or the refusal reason)."}, []string{"level", "outcome"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "medshare_gateway_index_pending",
			Help: "Uploads whose side-chain transactions committed but whose index entry is still being written."}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.ledger, m.ipfs, m.accesses, m.pending,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// watchIndexCache exports the index cache's counters.
func (m *metrics) watchIndexCache(c *indexcache.Cache) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "medshare_gateway_index_cache_hits_total",
			Help: "Index entries answered from the gateway's cache."}, func() float64 { return float64(c.Stats().Hits) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "medshare_gateway_index_cache_misses_total",
			Help: "Index entries read from the node (not cached, or the cache not following main's events)."},
			func() float64 { return float64(c.Stats().Misses) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "medshare_gateway_index_cache_live",
			Help: "1 while the index cache follows main's events and serves, 0 otherwise."}, func() float64 {
			if c.Stats().Live {
				return 1
			}
			return 0
		}))
}

func outcome(err error) string {
	var re *ledger.RefusedError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &re):
		return "refused"
	case errors.Is(err, ledger.ErrUnavailable), errors.Is(err, ErrIPFSUnavailable):
		return "unavailable"
	}
	return "error"
}

// timedLedger measures a Ledger.
type timedLedger struct {
	l ledger.Ledger
	m *metrics
}

func (t timedLedger) Submit(ctx context.Context, c txbuild.Call) (ledger.Result, error) {
	start := time.Now()
	res, err := t.l.Submit(ctx, c)
	t.m.ledger.WithLabelValues("submit", c.Chaincode+":"+c.Fn, outcome(err)).Observe(time.Since(start).Seconds())
	return res, err
}

func (t timedLedger) Evaluate(ctx context.Context, c txbuild.Call) ([]byte, error) {
	start := time.Now()
	b, err := t.l.Evaluate(ctx, c)
	t.m.ledger.WithLabelValues("evaluate", c.Chaincode+":"+c.Fn, outcome(err)).Observe(time.Since(start).Seconds())
	return b, err
}

// timedObjects measures Objects.
type timedObjects struct {
	o Objects
	m *metrics
}

func (t timedObjects) observe(op string, start time.Time, err error) {
	t.m.ipfs.WithLabelValues(op, outcome(err)).Observe(time.Since(start).Seconds())
}

func (t timedObjects) Add(ctx context.Context, data []byte) (string, error) {
	start := time.Now()
	cid, err := t.o.Add(ctx, data)
	t.observe("add", start, err)
	return cid, err
}

func (t timedObjects) AddTx(ctx context.Context, data []byte) (string, func(), func(context.Context) error, error) {
	start := time.Now()
	cid, commit, undo, err := t.o.AddTx(ctx, data)
	t.observe("add", start, err)
	return cid, commit, undo, err
}

func (t timedObjects) Cat(ctx context.Context, cid string) ([]byte, error) {
	start := time.Now()
	b, err := t.o.Cat(ctx, cid)
	t.observe("cat", start, err)
	return b, err
}

func (t timedObjects) Unpin(ctx context.Context, cid string) error {
	start := time.Now()
	err := t.o.Unpin(ctx, cid)
	t.observe("unpin", start, err)
	return err
}

func (t timedObjects) Ready(ctx context.Context) error { return t.o.Ready(ctx) }
