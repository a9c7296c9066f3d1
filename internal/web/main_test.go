package web_test

import (
	"os"
	"testing"

	"github.com/storefront/storefront/internal/postgres/postgrestest"
)

var pg *postgrestest.Template

func TestMain(m *testing.M) {
	pg = postgrestest.Setup()
	code := m.Run()
	pg.Close()
	os.Exit(code)
}
