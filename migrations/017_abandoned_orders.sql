-- An order whose card page (its setup-mode Checkout Session) expired
-- unused is canceled when the expiry arrives (shop.nextStatus); its lines
-- stay in the cart for a new order. The orders already left waiting on an
-- expired session are canceled here, as that rule would have.
UPDATE orders o SET status = 'canceled', canceled_at = now(), updated_at = now()
FROM checkout_sessions cs
WHERE cs.id = o.setup_session_id AND o.status = 'awaiting_card' AND cs.status = 'expired';
