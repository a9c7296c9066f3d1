package web

import (
	"net/http"
)

// confirmPage asks staff, or a customer on their cards page, to confirm a
// money or card action, naming exactly what it does; the confirmed post carries confirm=yes and Fields.
type confirmPage struct {
	Title    string
	Question string
	// Notice, when set, says why the confirmation is asked again.
	Notice string
	// Note, when set, says more: what cannot be undone, what else happens.
	Note   string
	Action string // where the confirmed form posts
	Button string
	Danger bool
	// Back is the page the action started from; BackLabel names it.
	Back, BackLabel string
	Fields          map[string]string
	// Choice, when set, is a question the confirmation also asks.
	Choice *confirmChoice
}

// confirmChoice is one choice made on the confirmation: radio buttons for
// the form field Name.
type confirmChoice struct {
	Legend  string
	Name    string
	Options []choiceOption
}

type choiceOption struct {
	Value, Label string
	Checked      bool
}

// confirmed tells whether a post is the confirmed one; without confirm=yes
// an action only shows its confirmation.
func confirmed(r *http.Request) bool { return r.PostFormValue("confirm") == "yes" }

// askToConfirm shows the confirmation of an action, staff's or a customer's.
func (s *Server) askToConfirm(w http.ResponseWriter, r *http.Request, p confirmPage) error {
	w.Header().Set("Cache-Control", "no-store")
	return s.render(w, r, http.StatusOK, "confirm", p)
}

// done ends an action: its message for the page it returns to, and the
// redirect there (303, so a reload never posts it again).
func (s *Server) done(w http.ResponseWriter, r *http.Request, to string, message flash) error {
	s.setFlash(w, message)
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}
