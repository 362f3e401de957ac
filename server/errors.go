package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"syscall"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/repo"
)

// MLflow error codes used by the server.
const (
	codeInvalidParameter = "INVALID_PARAMETER_VALUE"
	codeBadRequest       = "BAD_REQUEST"
	codeAlreadyExists    = "RESOURCE_ALREADY_EXISTS"
	codeDoesNotExist     = "RESOURCE_DOES_NOT_EXIST"
	codeEndpointNotFound = "ENDPOINT_NOT_FOUND"
	codeUnauthenticated  = "UNAUTHENTICATED"
	codePermissionDenied = "PERMISSION_DENIED"
	codeInternal         = "INTERNAL_ERROR"
	codeNotImplemented   = "NOT_IMPLEMENTED"
	codeUnavailable      = "TEMPORARILY_UNAVAILABLE"
)

// codeStatus is MLflow's map from error code to HTTP status
// (mlflow/exceptions.py). Codes not listed are 500.
var codeStatus = map[string]int{
	codeInvalidParameter:     http.StatusBadRequest,
	codeBadRequest:           http.StatusBadRequest,
	codeAlreadyExists:        http.StatusBadRequest,
	"CUSTOMER_UNAUTHORIZED":  http.StatusUnauthorized,
	codeUnauthenticated:      http.StatusUnauthorized,
	codePermissionDenied:     http.StatusForbidden,
	codeDoesNotExist:         http.StatusNotFound,
	codeEndpointNotFound:     http.StatusNotFound,
	"NOT_FOUND":              http.StatusNotFound,
	"ABORTED":                http.StatusConflict,
	"RESOURCE_CONFLICT":      http.StatusConflict,
	"ALREADY_EXISTS":         http.StatusConflict,
	"REQUEST_LIMIT_EXCEEDED": http.StatusTooManyRequests,
	"RESOURCE_EXHAUSTED":     http.StatusTooManyRequests,
	codeInternal:             http.StatusInternalServerError,
	"INVALID_STATE":          http.StatusInternalServerError,
	"DATA_LOSS":              http.StatusInternalServerError,
	codeNotImplemented:       http.StatusNotImplemented,
	codeUnavailable:          http.StatusServiceUnavailable,
}

// apiError is an error the server produced itself, with its MLflow code and
// a message meant for the client.
type apiError struct {
	code string
	msg  string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func errorf(code, format string, args ...any) error {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

func invalidf(format string, args ...any) error {
	return errorf(codeInvalidParameter, format, args...)
}

func missing(name string) error {
	return invalidf("Missing value for required parameter '%s'. See the API docs for more information about request parameters.", name)
}

// errorResponse is the one place that turns an error into an HTTP status
// and MLflow's error body. Errors of the store and of the server's own
// validation keep their message; anything else is an internal error whose
// details are logged and never returned.
func errorResponse(log *slog.Logger, r *http.Request, err error) (status int, code, msg string) {
	var ae *apiError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		code, msg = ae.code, ae.msg
	case errors.As(err, &mbe):
		code, msg = codeInvalidParameter, fmt.Sprintf("request body is larger than the limit of %d bytes", mbe.Limit)
	case errors.Is(err, repo.ErrNotFound), errors.Is(err, blob.ErrNotFound):
		code, msg = codeDoesNotExist, err.Error()
	case errors.Is(err, repo.ErrExists):
		code, msg = codeAlreadyExists, err.Error()
	case errors.Is(err, repo.ErrInvalid):
		code, msg = codeInvalidParameter, err.Error()
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		// Clients retry 503; the write was not acknowledged.
		code, msg = codeUnavailable, "the repository's disk is full (no space left on device): the write was not stored; free space and retry"
		log.Error("disk full", "method", r.Method, "path", r.URL.Path, "err", err)
	case errors.Is(err, repo.ErrLocked), errors.Is(err, repo.ErrConflict):
		// Clients retry 503: right for a lock held by another process.
		code, msg = codeUnavailable, "the store is busy; retry the request"
		log.Warn("store busy", "method", r.Method, "path", r.URL.Path, "err", err)
	default:
		code, msg = codeInternal, "internal server error; the server log has the details"
		log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	status, ok := codeStatus[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	return status, code, msg
}
