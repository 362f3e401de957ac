package ui

import "net/http"

func (h *Handler) modelPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, "model", &Page{Title: "model", Data: nil})
}
