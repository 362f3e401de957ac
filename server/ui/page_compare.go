package ui

import "net/http"

func (h *Handler) comparePage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, "compare", &Page{Title: "compare", Data: nil})
}
