package smtpmail

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
)

// checkRecipient accepts exactly one bare ASCII address, so that a
// customer-supplied value can neither add headers nor add recipients.
// Its errors do not quote the address, which is personal data.
func checkRecipient(to string) error {
	if strings.ContainsAny(to, "\r\n") {
		return errors.New("recipient contains a line break")
	}
	a, err := mail.ParseAddress(to)
	if err != nil {
		return fmt.Errorf("recipient is not an email address: %w", err)
	}
	if a.Name != "" || a.Address != to {
		return errors.New("recipient must be a bare address such as name@example.com, without a name, brackets or comments")
	}
	if !isASCII(to) {
		return errors.New("recipient must be an ASCII address")
	}
	return nil
}

// buildMessage renders an RFC 5322 plain-text message with CRLF line
// endings; the SMTP DATA writer adds the dot-stuffing.
func buildMessage(from *mail.Address, to, subject, body string, now time.Time) ([]byte, error) {
	if err := checkRecipient(to); err != nil {
		return nil, err
	}
	if strings.ContainsAny(subject, "\r\n") {
		return nil, errors.New("subject contains a line break")
	}

	fromHeader := from.Address
	if from.Name != "" {
		fromHeader = from.String() // quotes or RFC 2047-encodes the name
	}
	domain := from.Address[strings.LastIndex(from.Address, "@")+1:]

	var b bytes.Buffer
	header := func(name, value string) { fmt.Fprintf(&b, "%s: %s\r\n", name, value) }
	header("From", fromHeader)
	header("To", to)
	header("Subject", encodeSubject(subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", "<"+rand.Text()+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	// Quoted-printable keeps a mostly-ASCII body readable and every line
	// under the 998-octet limit, however long the payment link.
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")

	w := quotedprintable.NewWriter(&b)
	if _, err := w.Write([]byte(body)); err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encode body: %w", err)
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	return b.Bytes(), nil
}

// encodeSubject RFC 2047-encodes a subject that is not plain ASCII, folding
// between encoded words so that a long subject keeps its lines short.
func encodeSubject(subject string) string {
	encoded := mime.QEncoding.Encode("utf-8", subject)
	if encoded == subject {
		return subject
	}
	// The space between two encoded words is ignored when decoding, so it
	// is a safe place to fold.
	return strings.ReplaceAll(encoded, "?= =?", "?=\r\n =?")
}
