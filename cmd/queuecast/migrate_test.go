package main

import (
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// migrate says what it applied, then that there is nothing to apply; before,
// it printed nothing either way.
func TestMigrateCommandReports(t *testing.T) {
	dir := t.TempDir()
	setEnv(t, dir)
	db := regexp.QuoteMeta("SQLite " + filepath.Join(dir, "queuecast.db"))

	out, _, err := runCommand(t, "migrate")
	require.NoError(t, err)
	require.Regexp(t, "^"+db+`: applied 00001_schema\.sql \(version 1\) in \S+\n`, out)
	require.Regexp(t, "\n"+db+`: database is now at version \d+\n$`, out)

	out, _, err = runCommand(t, "migrate")
	require.NoError(t, err)
	require.Regexp(t, "^"+db+`: database is up to date at version \d+\n$`, out)
}
