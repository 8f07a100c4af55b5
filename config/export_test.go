package config

// WithoutRegistry returns c without its registry (whose functions
// reflect.DeepEqual cannot compare).
func WithoutRegistry(c Config) Config {
	c.registry = nil
	return c
}
