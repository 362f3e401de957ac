package ui

import "net/http"

func (h *Handler) artifactRoutes(m *http.ServeMux) {}
