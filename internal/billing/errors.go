package billing

import (
	"errors"
	"fmt"
)

// ErrNotFound is returned when an object does not exist, here or on Stripe.
var ErrNotFound = errors.New("not found")

// InvalidError is bad input from a person, with a message fit to show them.
type InvalidError struct {
	Field   string
	Message string
}

func (e *InvalidError) Error() string { return fmt.Sprintf("invalid %s: %s", e.Field, e.Message) }

// Invalid returns an *InvalidError for the field.
func Invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// GatewayError is an error answered by Stripe (or the network on the way to
// it). RequestID is Stripe's request id, which support needs to trace a call.
type GatewayError struct {
	Op          string
	HTTPStatus  int
	Type        string
	Code        string
	DeclineCode string
	// Param names the request parameter Stripe objected to, if any.
	Param     string
	Message   string
	RequestID string
	Err       error
}

func (e *GatewayError) Error() string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if e.RequestID != "" {
		return fmt.Sprintf("stripe %s: %d %s %s (request %s)", e.Op, e.HTTPStatus, e.Code, msg, e.RequestID)
	}
	return fmt.Sprintf("stripe %s: %d %s %s", e.Op, e.HTTPStatus, e.Code, msg)
}

func (e *GatewayError) Unwrap() error { return e.Err }

// MissingCustomer tells whether err is Stripe saying that the Customer a
// request named does not exist (deleted, or made on another account or by
// an emulator that has since restarted).
func MissingCustomer(err error) bool {
	var ge *GatewayError
	return errors.As(err, &ge) && ge.Code == "resource_missing" && ge.Param == "customer"
}

// Is makes a missing Stripe object match ErrNotFound.
func (e *GatewayError) Is(target error) bool {
	return target == ErrNotFound && e.Code == "resource_missing"
}
