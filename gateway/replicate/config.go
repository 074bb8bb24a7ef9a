package replicate

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/medshare/medshare/chaincode/storage"
)

// Stream is one chaincode's events on one channel.
type Stream struct {
	Channel   string
	Chaincode string
}

func (s Stream) String() string { return s.Channel + "/" + s.Chaincode }

// DefaultStreams are the storage chaincode's events on the three side
// channels.
var DefaultStreams = []Stream{
	{"side-high", storage.Name}, {"side-medium", storage.Name}, {"side-low", storage.Name},
}

// Config configures a Follower.
type Config struct {
	// Streams to follow (default DefaultStreams).
	Streams []Stream
	// Map turns an event into pins and unpins (default StoredPins).
	Map Mapper
	// StateFile is where progress and pending work are kept (required): a
	// file in the gateway's data folder.
	StateFile string
	// SaveInterval is how often the state is written when it changed.
	SaveInterval time.Duration
	// Workers is how many pins run at once.
	Workers int
	// AttemptTimeout bounds one pin or unpin attempt (fetching included).
	AttemptTimeout time.Duration
	// MinBackoff and MaxBackoff bound the delay between attempts of one
	// address, and between reconnections of a stream.
	MinBackoff, MaxBackoff time.Duration
	// GiveUpAfter drops an address still failing that long after it was
	// first seen (logged and counted); 0 retries forever.
	GiveUpAfter time.Duration
	// Logger receives the follower's logs (default: discarded).
	Logger *slog.Logger
}

// DefaultConfig returns the defaults; StateFile must still be set.
func DefaultConfig() Config {
	return Config{
		Streams:        DefaultStreams,
		Map:            StoredPins,
		SaveInterval:   time.Second,
		Workers:        8,
		AttemptTimeout: 2 * time.Minute,
		MinBackoff:     time.Second,
		MaxBackoff:     time.Minute,
		GiveUpAfter:    24 * time.Hour,
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Streams) == 0 {
		errs = append(errs, errors.New("streams: at least one is required"))
	}
	seen := map[Stream]bool{}
	for _, s := range c.Streams {
		if s.Channel == "" || s.Chaincode == "" || seen[s] {
			errs = append(errs, fmt.Errorf("streams: %q is empty or repeated", s))
		}
		seen[s] = true
	}
	if c.Map == nil {
		errs = append(errs, errors.New("map: a Mapper is required"))
	}
	if c.StateFile == "" {
		errs = append(errs, errors.New("stateFile: a state file is required"))
	}
	if c.SaveInterval <= 0 || c.AttemptTimeout <= 0 || c.MinBackoff <= 0 || c.MaxBackoff < c.MinBackoff || c.GiveUpAfter < 0 {
		errs = append(errs, errors.New("durations: saveInterval, attemptTimeout and minBackoff must be positive, maxBackoff at least minBackoff, giveUpAfter not negative"))
	}
	if c.Workers <= 0 {
		errs = append(errs, errors.New("workers must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("replicate: config: %w", err)
	}
	return nil
}
