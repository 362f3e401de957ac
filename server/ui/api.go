package ui

import "net/http"

// apiRoutes registers the UI's own JSON endpoints under /ui/api/: what the
// MLflow API has no call for (downsampled series of many runs, artifact
// previews and folder downloads). They are reads; writes go through the
// JSON API.
func (h *Handler) apiRoutes(m *http.ServeMux) {
	h.seriesRoutes(m)
	h.artifactRoutes(m)
	h.registryRoutes(m)
}
