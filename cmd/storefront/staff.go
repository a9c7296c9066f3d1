package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/storefront/storefront/internal/staff"
)

const staffUsage = `usage:
  storefront staff add EMAIL       add a staff user; the password is read from stdin
                                   (one line), or generated and printed when none is piped in
  storefront staff list            list staff users
  storefront staff disable EMAIL   stop a user signing in and end their sessions`

// runStaff manages staff accounts. It needs only the database.
func runStaff(ctx context.Context, args []string, getenv func(string) string, in io.Reader, stdout io.Writer) error {
	// Each verb and how many words it takes, itself included.
	words := map[string]int{"add": 2, "list": 1, "disable": 2}
	if len(args) == 0 || words[args[0]] != len(args) {
		return errors.New(staffUsage)
	}
	_, db, _, err := openStore(ctx, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	svc := staff.NewService(db, staff.Options{})
	switch args[0] {
	case "add":
		password, given, err := readPassword(in)
		if err != nil {
			return fmt.Errorf("staff add: read password: %w", err)
		}
		if !given {
			password = rand.Text() // 26 characters, 130 bits
		}
		u, err := svc.AddUser(ctx, args[1], password)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added staff user %s\n", u.Email)
		if !given {
			fmt.Fprintf(stdout, "password: %s\n(generated and shown only now; sign in at /admin/login)\n", password)
		}
		return nil
	case "disable":
		if err := svc.DisableUser(ctx, args[1]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "disabled %s; their sessions have ended\n", strings.ToLower(strings.TrimSpace(args[1])))
		return nil
	default:
		users, err := svc.Users(ctx)
		if err != nil {
			return err
		}
		if len(users) == 0 {
			fmt.Fprintln(stdout, "no staff users yet (admin signs in with ADMIN_PASSWORD); add one with: storefront staff add EMAIL")
		}
		for _, u := range users {
			status := "active"
			if u.Disabled() {
				status = "disabled " + u.DisabledAt.UTC().Format(time.DateOnly)
			}
			fmt.Fprintf(stdout, "%s\t%s\tadded %s\n", u.Email, status, u.CreatedAt.UTC().Format(time.DateOnly))
		}
		return nil
	}
}

// readPassword reads one line from in. A terminal, or nothing piped in,
// gives no password: echoing one typed at a terminal would show it.
func readPassword(in io.Reader) (string, bool, error) {
	if in == nil {
		return "", false, nil
	}
	if f, ok := in.(*os.File); ok {
		if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice != 0 {
			return "", false, nil
		}
	}
	line, err := bufio.NewReader(io.LimitReader(in, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, err
	}
	line = strings.TrimRight(line, "\r\n")
	return line, line != "", nil
}

// cliActor is who the audit log names for an operator command: the OS
// user, on this host.
func cliActor() staff.Actor {
	name := "cli"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = "cli:" + u.Username
	}
	host, _ := os.Hostname()
	return staff.Actor{Name: name, Address: host, Via: staff.ViaCLI}
}
