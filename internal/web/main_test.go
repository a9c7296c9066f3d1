package web_test

import (
	"os"
	"testing"

	"github.com/storefront/storefront/internal/postgres/postgrestest"
)

var pg *postgrestest.Template

func TestMain(m *testing.M) { os.Exit(postgrestest.Run(m, &pg)) }
