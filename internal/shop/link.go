package shop

import "encoding/binary"

// orderLinkDomain is signed into every order link: links made before it
// was shared with billing's signer keep working.
const orderLinkDomain = "order|"

// OrderLink is the signed link to an order's page for its customer:
// /orders/{token}. It does not expire: the customer may look an order up
// as long as the shop keeps it.
func (s *Service) OrderLink(orderID int64) string {
	return s.baseURL + "/orders/" + s.orderToken(orderID)
}

// orderToken seals the order's id, so a link names its order and cannot
// be altered to name another.
func (s *Service) orderToken(orderID int64) string {
	return s.links.Seal(binary.BigEndian.AppendUint64(nil, uint64(orderID)))
}

// verifyOrderToken returns the order a token names, if its signature holds.
func (s *Service) verifyOrderToken(token string) (int64, bool) {
	payload, ok := s.links.Open(token, 8)
	if !ok {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(payload)), true
}
