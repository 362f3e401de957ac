package ui

import "net/http"

func (h *Handler) seriesRoutes(m *http.ServeMux) {}
