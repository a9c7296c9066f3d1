package stripeemu

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/stripe/stripe-go/v76"
)

// ErrNotFound reports an unknown object (session, customer, ...) to Go callers
// such as CompleteCheckout; over HTTP it becomes Stripe's resource_missing 404.
var ErrNotFound = errors.New("stripeemu: no such object")

// ErrSessionNotOpen reports a checkout session that is expired or already
// complete, so it can no longer take a card.
var ErrSessionNotOpen = errors.New("stripeemu: checkout session is not open")

// CardError is a card that the emulated issuer declined or whose 3-D Secure
// authentication failed. Code and DeclineCode use Stripe's values, e.g.
// "card_declined" with "generic_decline" or "insufficient_funds", or
// "setup_intent_authentication_failure".
type CardError struct {
	Code        string
	DeclineCode string
	Message     string
}

// Error implements error.
func (e *CardError) Error() string {
	if e.DeclineCode != "" {
		return fmt.Sprintf("card error %s (%s): %s", e.Code, e.DeclineCode, e.Message)
	}
	return fmt.Sprintf("card error %s: %s", e.Code, e.Message)
}

// stripeError is the error as an intent's last_payment_error or
// last_setup_error holds it.
func (e *CardError) stripeError(pmID string) *stripe.Error {
	return &stripe.Error{Type: stripe.ErrorTypeCard, Code: stripe.ErrorCode(e.Code), DeclineCode: stripe.DeclineCode(e.DeclineCode), Msg: e.Message,
		DocURL: "https://stripe.com/docs/error-codes/" + strings.ReplaceAll(e.Code, "_", "-"), PaymentMethod: &stripe.PaymentMethod{ID: pmID}}
}

// FieldError is one invalid field of the hosted checkout form; Field is the
// form's element id ("email", "cardNumber", "cardExpiry", "cardCvc", "billingName").
type FieldError struct {
	Field   string
	Message string
}

// ValidationError lists what is wrong with the card details given to
// CompleteCheckout (bad input, as opposed to a CardError decline).
type ValidationError struct {
	Fields []FieldError
}

// Error implements error.
func (e *ValidationError) Error() string {
	parts := make([]string, 0, len(e.Fields))
	for _, f := range e.Fields {
		parts = append(parts, f.Field+": "+f.Message)
	}
	return "invalid card details: " + strings.Join(parts, "; ")
}

// forField returns the message for one field, or "".
func (e *ValidationError) forField(field string) string {
	if e == nil {
		return ""
	}
	for _, f := range e.Fields {
		if f.Field == field {
			return f.Message
		}
	}
	return ""
}

// apiError is an error answered over the API in Stripe's shape:
// {"error": {"type", "code", "decline_code", "message", "param", ...}}.
type apiError struct {
	status      int
	typ         string
	code        string
	declineCode string
	message     string
	param       string
	// extra holds objects Stripe embeds in card errors (payment_intent,
	// payment_method, charge, setup_intent), already rendered.
	extra map[string]any
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.status, e.typ, e.message)
}

func (e *apiError) body() map[string]any {
	m := map[string]any{"type": e.typ, "message": e.message}
	if e.code != "" {
		m["code"] = e.code
		m["doc_url"] = "https://stripe.com/docs/error-codes/" + strings.ReplaceAll(e.code, "_", "-")
	}
	if e.declineCode != "" {
		m["decline_code"] = e.declineCode
	}
	if e.param != "" {
		m["param"] = e.param
	}
	for k, v := range e.extra {
		m[k] = v
	}
	return map[string]any{"error": m}
}

// withCode sets Stripe's error code, e.g. "amount_too_small".
func (e *apiError) withCode(code string) *apiError {
	e.code = code
	return e
}

func invalidParam(param, msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", param: param, message: msg}
}

func missingParam(param string) *apiError {
	return invalidParam(param, "Missing required param: "+param+".").withCode("parameter_missing")
}

func invalidRequest(msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", message: msg}
}

// noSuch is Stripe's 404 for an unknown id; param names where the id came from.
func noSuch(kind, id, param string) *apiError {
	return &apiError{
		status:  http.StatusNotFound,
		typ:     "invalid_request_error",
		code:    "resource_missing",
		param:   param,
		message: fmt.Sprintf("No such %s: '%s'", kind, id),
	}
}

// noSuchParam is a 400 for an id given as a parameter that does not exist, as
// Stripe answers when e.g. a session names an unknown customer.
func noSuchParam(kind, id, param string) *apiError {
	e := noSuch(kind, id, param)
	e.status = http.StatusBadRequest
	return e
}
