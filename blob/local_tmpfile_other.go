//go:build !linux

package blob

import "os"

// openAnon always fails with errNoAnon here: staging files have names.
func openAnon(string) (*os.File, error) { return nil, errNoAnon }

// linkAnon is never called where openAnon fails.
func linkAnon(*os.File, string) error { return errNoAnon }
