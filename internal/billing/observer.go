package billing

// Observer is told what the flows did, so that an adapter can count it
// (metrics). Its methods are called on the request's goroutine and must be
// quick; they never change what the flows do.
type Observer interface {
	// ChargeSettled is called once for each charge sent to Stripe, with the
	// status Stripe's answer gives the attempt (ChargeProcessing when no
	// answer came: the outcome is unknown until a retry), and with
	// ChargeRecovered when a recovery payment is recorded.
	ChargeSettled(status string)
	// EventDelivered is called once for each event the webhook hands to
	// ReceiveEvent, with what became of it.
	EventDelivered(eventType string, outcome DeliveryOutcome)
}

// DeliveryOutcome is what became of one delivery of a webhook event.
type DeliveryOutcome string

// Delivery outcomes.
const (
	// DeliveryApplied: the event was stored and applied by this delivery.
	DeliveryApplied DeliveryOutcome = "applied"
	// DeliveryDuplicate: the event had been applied already, by an earlier
	// or a concurrent delivery; nothing changed.
	DeliveryDuplicate DeliveryOutcome = "duplicate"
	// DeliveryFailed: the event was stored but applying it failed; a
	// redelivery, sync or replay can finish it.
	DeliveryFailed DeliveryOutcome = "failed"
	// DeliveryNotStored: the event could not even be stored; Stripe retries.
	DeliveryNotStored DeliveryOutcome = "not_stored"
)

// noObserver is the Observer of a Service given none.
type noObserver struct{}

func (noObserver) ChargeSettled(string)                   {}
func (noObserver) EventDelivered(string, DeliveryOutcome) {}
