package ui

import "net/http"

func (h *Handler) versionPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, "version", &Page{Title: "version", Data: nil})
}
