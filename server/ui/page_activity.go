package ui

import "net/http"

func (h *Handler) activityPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, "activity", &Page{Title: "activity", Data: nil})
}
