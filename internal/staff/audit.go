package staff

import "context"

// Record writes an audit row for an action the context's actor is about to
// take. Without an actor it refuses (ErrNoActor), and so does the action.
// Its signature is billing's AuditFunc, so the two meet without importing
// each other.
func (s *Service) Record(ctx context.Context, action, target string, amount int64, currency, detail string) error {
	a, ok := ActorFrom(ctx)
	if !ok {
		return ErrNoActor
	}
	e := Entry{Actor: a.Name, ActorAddress: a.Address, Action: action, Target: target, Detail: detail}
	if currency != "" {
		e.Amount, e.Currency = amount, currency
	}
	_, err := s.store.AppendAudit(ctx, e)
	return err // the caller names the action; the store names itself
}

// AuditPageSize is how many rows one page of the audit log shows.
const AuditPageSize = 50

// Audit returns a page of the audit log, newest first; beforeID, when not
// 0, is the id of the last row of the previous page.
func (s *Service) Audit(ctx context.Context, beforeID int64) ([]Entry, error) {
	if beforeID < 0 {
		return nil, &InvalidError{Message: "The page link is malformed; start again from the first page."}
	}
	return s.store.AuditEntries(ctx, beforeID, AuditPageSize)
}
