package billing

import (
	"testing"
	"time"
)

func TestNotificationStatus(t *testing.T) {
	at := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	cases := map[string]struct {
		n    Notification
		want NotificationStatus
	}{
		"new":                   {Notification{Recipient: "a@example.com"}, NotificationWaiting},
		"a try failed":          {Notification{Recipient: "a@example.com", LastError: "421", FailingSince: at}, NotificationRetrying},
		"sent after a failure":  {Notification{Recipient: "a@example.com", LastError: "", SentAt: at}, NotificationSent},
		"given up":              {Notification{Recipient: "a@example.com", LastError: "421", FailedAt: at}, NotificationFailed},
		"nobody to send it to":  {Notification{}, NotificationNoRecipient},
		"sent wins over failed": {Notification{Recipient: "a@example.com", SentAt: at, FailedAt: at}, NotificationSent},
	}
	for name, tc := range cases {
		if got := tc.n.Status(); got != tc.want {
			t.Errorf("%s: %s, want %s", name, got, tc.want)
		}
	}
}

func TestGivesUpAfterTheRetryWindow(t *testing.T) {
	since := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	cases := map[string]struct {
		now     time.Time
		lastTry bool
		want    bool
	}{
		"first failure":        {now: since, want: false},
		"a day later":          {now: since.Add(24 * time.Hour), want: false},
		"just short of 3 days": {now: since.Add(EmailRetryWindow - time.Second), want: false},
		"3 days later":         {now: since.Add(EmailRetryWindow), want: true},
		"the last try":         {now: since.Add(time.Minute), lastTry: true, want: true},
	}
	for name, tc := range cases {
		if got := givesUp(since, tc.now, tc.lastTry); got != tc.want {
			t.Errorf("%s: givesUp = %v, want %v", name, got, tc.want)
		}
	}
}

func TestMessageIDIsStablePerNotification(t *testing.T) {
	s := NewService(nil, nil, Options{BaseURL: "https://shop.example.com:8443/"})
	created := time.Date(2026, 11, 3, 9, 0, 0, 123456000, time.UTC)
	a := s.messageID(Notification{ID: 7, CreatedAt: created})
	if again := s.messageID(Notification{ID: 7, CreatedAt: created, Attempts: 3, LastError: "421"}); again != a {
		t.Errorf("Message-ID changed between tries: %q then %q", a, again)
	}
	if other := s.messageID(Notification{ID: 8, CreatedAt: created}); other == a {
		t.Errorf("two notifications share Message-ID %q", a)
	}
	if want := "notification-7."; a[:len(want)] != want || a[len(a)-len("@shop.example.com"):] != "@shop.example.com" {
		t.Errorf("Message-ID %q: want notification-7.…@shop.example.com (no port)", a)
	}
}
