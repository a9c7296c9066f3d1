package billing

// The jobs of the store's schedules, run by internal/jobs: each calls one
// method of the Service (RunDunning, SendCardExpiryReminders,
// SendRecoveryReminders, Reconcile, FoldPaymentTotals), which does what is due and may run
// twice, late or on several replicas at once. Their kinds are stored in
// the job queue, so they must not change.

// DunningArgs is the job that makes the dunning retries that are due.
type DunningArgs struct{}

// Kind names the job.
func (DunningArgs) Kind() string { return "dunning" }

// CardExpiryRemindersArgs is the job that writes card expiry reminders.
type CardExpiryRemindersArgs struct{}

// Kind names the job.
func (CardExpiryRemindersArgs) Kind() string { return "card_expiry_reminders" }

// RecoveryRemindersArgs is the job that recalls unpaid recovery links.
type RecoveryRemindersArgs struct{}

// Kind names the job.
func (RecoveryRemindersArgs) Kind() string { return "recovery_reminders" }

// ReconcileArgs is the job that applies the events of the last hour that
// the ledger lacks.
type ReconcileArgs struct{}

// Kind names the job.
func (ReconcileArgs) Kind() string { return "reconcile" }

// FoldPaymentTotalsArgs is the job that compacts the payments list's
// counters of past days.
type FoldPaymentTotalsArgs struct{}

// Kind names the job.
func (FoldPaymentTotalsArgs) Kind() string { return "fold_payment_totals" }
