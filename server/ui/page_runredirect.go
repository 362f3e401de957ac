package ui

import (
	"net/http"
	"net/url"
)

// runRedirect sends /runs/<id> to the run's page under its experiment
// (MLflow's short link).
func (h *Handler) runRedirect(w http.ResponseWriter, r *http.Request) {
	run, err := h.r.GetRun(r.PathValue("rid"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/experiments/"+url.PathEscape(run.ExperimentID)+"/runs/"+url.PathEscape(run.ID), http.StatusFound)
}
