package ui

import "net/http"

func (h *Handler) runPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, "run", &Page{Title: "run", Data: nil})
}
