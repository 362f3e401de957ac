// Package pagetoken is the one codec of the page tokens mlgit hands out
// where MLflow's API pages by position: base64 of {"offset": N}, as
// MLflow's own stores write them, so a client may keep a token between
// servers.
package pagetoken

import (
	"encoding/base64"
	"encoding/json"
	"errors"
)

// ErrInvalid is returned for a token that is not base64 of a JSON object
// with a non-negative "offset".
var ErrInvalid = errors.New("invalid page token")

// Encode returns the token of the page that starts at offset.
func Encode(offset int) string {
	b, _ := json.Marshal(map[string]int{"offset": offset})
	return base64.StdEncoding.EncodeToString(b)
}

// Decode returns the offset a token encodes; the empty token is the first
// page (offset 0).
func Decode(tok string) (int, error) {
	if tok == "" {
		return 0, nil
	}
	b, err := base64.StdEncoding.DecodeString(tok)
	var v struct {
		Offset *int `json:"offset"`
	}
	if err != nil || json.Unmarshal(b, &v) != nil || v.Offset == nil || *v.Offset < 0 {
		return 0, ErrInvalid
	}
	return *v.Offset, nil
}
