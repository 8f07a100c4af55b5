package frisbii

import "time"

// SetHostClock makes c's host clock now: a replica whose clock is off.
func SetHostClock(c *Client, now func() time.Time) { c.hostNow = now }
