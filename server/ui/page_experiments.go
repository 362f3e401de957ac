package ui

import "net/http"

func (h *Handler) experimentsPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, "experiments", &Page{Title: "experiments", Data: nil})
}
