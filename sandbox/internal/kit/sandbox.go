package kit

import (
	"math/rand/v2"
	"strings"
	"time"
)

// NewRand returns the generator behind a sandbox's FailPerMille, seeded
// with seed, or from the clock when seed is 0.
func NewRand(seed uint64) *rand.Rand {
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// CleanPrefix normalizes a sandbox's URL path prefix: no trailing slash, a
// leading one unless empty.
func CleanPrefix(p string) string {
	p = strings.TrimRight(p, "/")
	if p != "" && !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}
