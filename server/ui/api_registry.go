package ui

import "net/http"

func (h *Handler) registryRoutes(m *http.ServeMux) {}
