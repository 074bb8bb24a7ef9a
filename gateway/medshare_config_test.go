package gateway

import (
	"strings"
	"testing"
	"time"
)

func TestMedShareConfig(t *testing.T) {
	c := validConfig()
	if err := c.ApplyEnv([]string{EnvPrefix + "MEDSHARE_ALLOWED=read,copy,duplicate", EnvPrefix + "MEDSHARE_CACHESIZE=8", EnvPrefix + "MEDSHARE_VALIDITY=48h"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil || len(c.MedShare.Allowed) != 3 || c.MedShare.CacheSize != 8 || c.MedShare.Validity != 48*time.Hour {
		t.Fatalf("%+v %v", c.MedShare, err)
	}
	for _, bad := range []MedShareConfig{
		{Allowed: []string{"print"}, Validity: time.Hour, CacheSize: 1},
		{Allowed: []string{"read", "read"}, Validity: time.Hour, CacheSize: 1},
		{Ignored: []string{"decrypted"}, Validity: time.Hour, CacheSize: 1},
		{Validity: time.Second, CacheSize: 1},
		{Validity: time.Hour},
	} {
		c := validConfig()
		c.MedShare = bad
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "medshare.") {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}
