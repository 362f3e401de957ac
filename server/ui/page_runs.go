package ui

import "net/http"

func (h *Handler) runsPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, "runs", &Page{Title: "runs", Data: nil})
}
