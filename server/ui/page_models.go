package ui

import "net/http"

func (h *Handler) modelsPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, "models", &Page{Title: "models", Data: nil})
}
