package replicate

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// StreamStatus is the state of one followed stream.
type StreamStatus struct {
	Stream
	// Connected says whether the event stream is open.
	Connected bool
	// NextBlock is where the stream resumes after a restart.
	NextBlock uint64
	// LastEvent is when the stream last delivered an event.
	LastEvent time.Time
	// Reconnects counts the times the stream was lost.
	Reconnects uint64
	// Err is why the stream is down.
	Err string
}

// Counts are the follower's totals since it was created.
type Counts struct {
	// Pinned and Unpinned count decisions carried out; AlreadyPinned the
	// pins found done (the organisation's own uploads, events read again).
	Pinned, Unpinned, AlreadyPinned uint64
	// Refused counts addresses dropped for good (not a CID, larger than
	// the maximum object size); Abandoned those that failed for longer
	// than GiveUpAfter.
	Refused, Abandoned uint64
	// Failures counts failed attempts (retried).
	Failures uint64
	// BadEvents counts events the Mapper could not read.
	BadEvents uint64
}

// Status is a snapshot of the follower for /readyz and metrics.
type Status struct {
	Streams []StreamStatus
	// Pending counts decisions not carried out yet; Retrying those of
	// them that failed at least once.
	Pending, Retrying int
	// OldestPending is how long the oldest pending decision has waited:
	// the replication lag.
	OldestPending time.Duration
	Counts
	// LastError is the last failure's message.
	LastError string
}

// Status returns a snapshot.
func (f *Follower) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := Status{Pending: len(f.items), Retrying: len(f.retry), Counts: f.counts, LastError: f.lastErr}
	now := time.Now()
	for _, it := range f.items {
		s.OldestPending = max(s.OldestPending, now.Sub(it.first))
	}
	for _, st := range f.cfg.Streams {
		s.Streams = append(s.Streams, *f.streams[st.String()])
	}
	return s
}

// Check reports a problem for /readyz: a stream that is not connected, or
// a decision pending for longer than maxLag.
func (s Status) Check(maxLag time.Duration) error {
	var errs []error
	for _, st := range s.Streams {
		if !st.Connected {
			errs = append(errs, fmt.Errorf("stream %s is down: %s", st.Stream, st.Err))
		}
	}
	if s.OldestPending > maxLag {
		errs = append(errs, fmt.Errorf("%d pins pending, the oldest for %v (last error: %s)", s.Pending, s.OldestPending.Round(time.Second), s.LastError))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("replicate: %w", err)
	}
	return nil
}

var (
	descPending = prometheus.NewDesc("medshare_replication_pending", "Pins and unpins the follower has not carried out yet.", nil, nil)
	descLag     = prometheus.NewDesc("medshare_replication_oldest_pending_seconds", "How long the oldest pending pin or unpin has waited.", nil, nil)
	descUp      = prometheus.NewDesc("medshare_replication_stream_up", "Whether the follower's event stream is connected.", []string{"stream"}, nil)
	descNext    = prometheus.NewDesc("medshare_replication_next_block", "The block a stream resumes from.", []string{"stream"}, nil)
	descDone    = prometheus.NewDesc("medshare_replication_done_total", "Decisions finished, by result.", []string{"result"}, nil)
	descFail    = prometheus.NewDesc("medshare_replication_failed_attempts_total", "Failed pin or unpin attempts (retried).", nil, nil)
	descBad     = prometheus.NewDesc("medshare_replication_bad_events_total", "Events the follower could not read.", nil, nil)
)

// Describe implements prometheus.Collector.
func (f *Follower) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPending, descLag, descUp, descNext, descDone, descFail, descBad} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: register the Follower on the
// gateway's registry.
func (f *Follower) Collect(ch chan<- prometheus.Metric) {
	s := f.Status()
	ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(s.Pending))
	ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, s.OldestPending.Seconds())
	for _, st := range s.Streams {
		up := 0.0
		if st.Connected {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up, st.Stream.String())
		ch <- prometheus.MustNewConstMetric(descNext, prometheus.GaugeValue, float64(st.NextBlock), st.Stream.String())
	}
	for result, n := range map[string]uint64{"pinned": s.Pinned, "already_pinned": s.AlreadyPinned, "unpinned": s.Unpinned, "refused": s.Refused, "abandoned": s.Abandoned} {
		ch <- prometheus.MustNewConstMetric(descDone, prometheus.CounterValue, float64(n), result)
	}
	ch <- prometheus.MustNewConstMetric(descFail, prometheus.CounterValue, float64(s.Failures))
	ch <- prometheus.MustNewConstMetric(descBad, prometheus.CounterValue, float64(s.BadEvents))
}

var _ prometheus.Collector = (*Follower)(nil)
