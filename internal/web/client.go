package web

import (
	"net"
	"net/http"
)

// clientAddr is the address a request came from, for rate limits and the
// audit log: the peer's IP, without its port.
func (s *Server) clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
