package ui

import "net/http"

func (h *Handler) diffPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, "diff", &Page{Title: "diff", Data: nil})
}
