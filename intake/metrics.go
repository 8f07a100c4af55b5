package intake

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Endpoint label values of settlement_intake_requests_total.
const (
	EndpointRetailOPS = "retailops"
	EndpointRadial    = "radial"
)

// Codes are the HTTP answers the intake's endpoints give; each starts at
// zero for every enabled endpoint.
var Codes = []int{
	http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized, http.StatusMethodNotAllowed,
	http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType,
	http.StatusInternalServerError, http.StatusServiceUnavailable,
}

// Metrics are the intake's Prometheus metrics. A nil *Metrics records
// nothing.
type Metrics struct {
	requests *prometheus.CounterVec
}

// NewMetrics registers the metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "settlement_intake_requests_total",
		Help: "HTTP requests to the intake's settlement endpoints, by endpoint (retailops, radial) and HTTP status code answered.",
	}, []string{"endpoint", "code"})}
	reg.MustRegister(m.requests)
	return m
}

// Init creates every code of the endpoints at zero.
func (m *Metrics) Init(endpoints ...string) {
	if m == nil {
		return
	}
	for _, e := range endpoints {
		for _, c := range Codes {
			m.requests.WithLabelValues(e, strconv.Itoa(c))
		}
	}
}

// Endpoints are the endpoints cfg enables.
func (cfg Config) Endpoints() []string {
	var out []string
	if Enabled(cfg.RetailOPS.Path) {
		out = append(out, EndpointRetailOPS)
	}
	if Enabled(cfg.Radial.Path) {
		out = append(out, EndpointRadial)
	}
	return out
}

// counted wraps an endpoint's handler to count its answers in s.Metrics.
func (s *Server) counted(endpoint string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.Metrics == nil {
			h(w, r)
			return
		}
		cw := &codeWriter{ResponseWriter: w, code: http.StatusOK}
		h(cw, r)
		s.Metrics.requests.WithLabelValues(endpoint, strconv.Itoa(cw.code)).Inc()
	}
}

// codeWriter remembers the status code written.
type codeWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *codeWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *codeWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *codeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
