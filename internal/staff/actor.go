package staff

import (
	"context"
	"os"
)

// How an actor was recognised.
const (
	ViaSession = "session"
	ViaBasic   = "basic"
	ViaCLI     = "cli"
	// ViaSystem is the store acting on its own, on a schedule.
	ViaSystem = "system"
	// ViaLink is a customer acting on their own cards through a signed
	// link the store emailed them.
	ViaLink = "link"
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

// SystemActor is who the audit log names for what the store does on its
// own, such as retrying a soft-declined charge: "system:" and the job's
// name, from the host that ran it.
func SystemActor(job string) Actor {
	host, _ := os.Hostname()
	return Actor{Name: "system:" + job, Address: host, Via: ViaSystem}
}

// CustomerActor is who the audit log names for a customer acting on their
// own cards through the link we emailed them: "customer:" and their email,
// from their address.
func CustomerActor(email, address string) Actor {
	return Actor{Name: "customer:" + email, Address: address, Via: ViaLink}
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
