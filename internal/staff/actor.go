package staff

import "context"

// How an actor was recognised.
const (
	ViaSession = "session"
	ViaBasic   = "basic"
	ViaCLI     = "cli"
)

// Actor is who is acting: a staff email, `admin`, or an operator at the
// command line; and from where.
type Actor struct {
	Name string
	// UserID is the staff user's id; 0 for `admin` and the command line.
	UserID int64
	// Address is the client's address, or the host a command ran on.
	Address string
	// Via says how the actor was recognised (ViaSession, ViaBasic, ViaCLI).
	Via string
}

type actorKey struct{}

// WithActor returns ctx carrying the actor, for the audit log.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor ctx carries.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok && a.Name != ""
}
