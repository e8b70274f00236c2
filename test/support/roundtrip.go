package support

import "net/http"

// RoundTripFunc is a function as an http.RoundTripper, to observe a
// client's requests in process (rest.Config.WrapTransport).
type RoundTripFunc func(*http.Request) (*http.Response, error)

// RoundTrip calls f.
func (f RoundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
