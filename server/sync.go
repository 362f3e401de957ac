package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/repo"
)

// A syncing server (mlgit server --sync REMOTE; docs/sharing.md, "Team
// servers") keeps its clone in step with a Git remote in the background:
// when a checkpoint or a registry write moves the tracking branch it
// pushes (blobs first, then branch and tags, as mlgit push does); every
// SyncConfig.Interval, and when POST /api/2.0/mlgit/sync asks (a Git
// host's push webhook), it pulls what others pushed and pushes what it
// has. Pull and push are repo.Repo's, which hold the journal's checkpoint
// lock and fold the journal first, so a sync never races a checkpoint;
// journal writes go on meanwhile. A remote that is down or refuses never
// stops the server from accepting writes: rounds are retried with capped
// exponential back-off, and the state is on GET /api/2.0/mlgit/status and
// in the log.

// SyncConfig configures a server that syncs with a Git remote.
type SyncConfig struct {
	// Remote is a configured remote name or a URL or path. Required.
	Remote string
	// Interval is how often the server pulls (default 30 s).
	Interval time.Duration
	// MaxBackoff caps the delay between attempts after failures
	// (default 10 × Interval, at most 5 minutes, at least 1 s).
	MaxBackoff time.Duration
	// PushGap is the least time between two pushes started by branch
	// moves, so that steady logging makes about one push per PushGap
	// rather than one per checkpoint (default 1 s).
	PushGap time.Duration
	// Poll is how often the branch tip is compared with the last one
	// pushed (default 200 ms; reading one ref).
	Poll time.Duration
	// Timeout bounds one round of pull and push (default 2 minutes).
	Timeout time.Duration
}

// Paths of the sync endpoints (outside MLflow's /api/2.0/mlflow/).
const (
	syncPath   = "/api/2.0/mlgit/sync"
	statusPath = "/api/2.0/mlgit/status"
)

// finalPushTimeout bounds the push at shutdown, so that a remote that
// hangs does not outlast a service manager's stop timeout.
const finalPushTimeout = 30 * time.Second

// catchUpTimeout bounds the pull before a registration: a remote that
// hangs delays a registration this long once, then counts as failing.
const catchUpTimeout = 10 * time.Second

// pushAttempts bounds the attempts of one push: one. A round holds this
// server's registry writes, so a push that another server beat is not
// retried inside the round (fetch, re-apply, push again) but by the loop,
// with a pull round at once.
const pushAttempts = 1

// errContended marks a round whose push another pusher beat: the remote
// works, and the loop pulls and pushes again at once.
var errContended = errors.New("the remote moved while pushing")

// registryWaitLimit bounds how long a registry write waits for a sync
// round to finish before it is answered TEMPORARILY_UNAVAILABLE (MLflow
// clients retry it).
const registryWaitLimit = 15 * time.Second

// syncer runs the rounds of a syncing server.
type syncer struct {
	s   *Server
	cfg SyncConfig
	log *slog.Logger

	// trigger asks the loop for a pull round (a webhook without wait).
	trigger chan struct{}
	stop    chan struct{}
	done    chan struct{}
	// loopCtx is the loop's rounds' context, cancelled at close.
	loopCtx    context.Context
	cancelLoop context.CancelFunc

	// round serializes rounds (the loop, a webhook that waits, shutdown).
	round sync.Mutex
	// registry is held shared by registry writes and exclusive by a
	// round: a registry write commits and then creates its tags, and a
	// pull that renumbered its version in between would leave the tag on
	// the replaced commit.
	registry sync.RWMutex

	mu sync.Mutex
	st syncStatus
	// lastTip is the branch tip when the last successful round started;
	// a different tip means there is something to push.
	lastTip string
	// remoteKnown is set once a round succeeded: st.RemoteTip is what the
	// remote has.
	remoteKnown bool
	// raced is set when the last round's push was beaten.
	raced bool
}

// syncStatus is the sync part of GET /api/2.0/mlgit/status.
type syncStatus struct {
	Remote          string `json:"remote"`
	IntervalSeconds int64  `json:"interval_seconds"`
	// State is "starting" (no round finished yet), "ok" (the last round
	// succeeded) or "failing" (the last round failed; the server retries
	// at NextAttempt). Syncing is set while a round runs.
	State       string `json:"state"`
	Syncing     bool   `json:"syncing"`
	LastAttempt string `json:"last_attempt,omitempty"`
	LastSuccess string `json:"last_success,omitempty"`
	LastError   string `json:"last_error,omitempty"`
	LastErrorAt string `json:"last_error_at,omitempty"`
	// Failures counts the rounds that failed since the last success.
	Failures int `json:"consecutive_failures"`
	// PendingCommits counts the local commits the remote lacks, as of
	// the last fetch or push (null until a round succeeded).
	PendingCommits *int   `json:"pending_commits"`
	RemoteTip      string `json:"remote_tip,omitempty"`
	// NextAttempt is when the next round runs: the retry after a
	// failure, or the next scheduled pull.
	NextAttempt string `json:"next_attempt,omitempty"`
	Pushes      int    `json:"pushes"`
	// Raced counts pushes another pusher beat (each followed at once by
	// a pull and a new push).
	Raced         int `json:"raced"`
	Pulls         int `json:"pulls"`
	PushedCommits int `json:"pushed_commits"`
	// Renumbered lists the model versions this server renumbered because
	// the remote took their number first (the latest 100).
	Renumbered []renumberedJSON `json:"renumbered"`

	state       string
	nextAttempt time.Time
	nextPull    time.Time
	lastPush    time.Time
}

type renumberedJSON struct {
	Model string `json:"model"`
	From  int64  `json:"from"`
	To    int64  `json:"to"`
	At    string `json:"at"`
}

func newSyncer(s *Server, cfg SyncConfig) *syncer {
	if cfg.Interval <= 0 {
		cfg.Interval = 30 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = min(5*time.Minute, max(time.Second, 10*cfg.Interval))
	}
	if cfg.PushGap <= 0 {
		cfg.PushGap = time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 200 * time.Millisecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Minute
	}
	y := &syncer{s: s, cfg: cfg, log: s.log.With("sync", cfg.Remote),
		trigger: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	y.loopCtx, y.cancelLoop = context.WithCancel(context.Background())
	y.st = syncStatus{Remote: cfg.Remote, IntervalSeconds: int64(cfg.Interval / time.Second), state: "starting", Renumbered: []renumberedJSON{}}
	return y
}

// start runs the loop in the background; the first round (pull, then
// push) starts at once.
func (y *syncer) start() {
	go y.loop()
}

func (y *syncer) loop() {
	defer close(y.done)
	t := time.NewTicker(y.cfg.Poll)
	defer t.Stop()
	pullNow := true
	for {
		if !pullNow {
			select {
			case <-y.stop:
				return
			case <-y.trigger:
				pullNow = true
			case <-t.C:
			}
		}
		now := time.Now()
		y.mu.Lock()
		failing := y.st.state == "failing"
		retryAt, pullAt, lastPush, lastTip := y.st.nextAttempt, y.st.nextPull, y.st.lastPush, y.lastTip
		y.mu.Unlock()
		pull := pullNow || now.After(pullAt)
		if failing && now.Before(retryAt) && !pullNow {
			continue
		}
		pullNow = false
		if !pull {
			if now.Sub(lastPush) < y.cfg.PushGap {
				continue
			}
			if tip, err := y.s.r.Tip(); err != nil || tip == lastTip {
				continue
			}
		}
		y.round.Lock()
		_ = y.runRound(y.loopCtx, pull) // recorded in the status and the log
		y.round.Unlock()
	}
}

// close stops the loop and runs a last push, so that what the final
// checkpoint committed reaches the remote. The HTTP server must have
// stopped.
func (y *syncer) close() error {
	close(y.stop)
	y.cancelLoop() // a round in progress gives up: the last push follows
	<-y.done
	if y.s.cfg.ReadOnly {
		return nil
	}
	y.round.Lock()
	defer y.round.Unlock()
	return y.untilPushed(false)
}

// syncNow runs a pull round now (POST /api/2.0/mlgit/sync?wait=true).
func (y *syncer) syncNow() error {
	y.round.Lock()
	defer y.round.Unlock()
	return y.untilPushed(true)
}

// untilPushed runs rounds until one is not beaten by another pusher (at
// most 30). The caller holds y.round.
func (y *syncer) untilPushed(pull bool) error {
	for i := 0; ; i++ {
		err := y.runRound(context.Background(), pull)
		if !errors.Is(err, errContended) || i == 29 {
			return err
		}
		pull = true
		time.Sleep(time.Duration(rand.Int64N(int64(50*time.Millisecond) << min(i, 4))))
	}
}

// runRound pulls (when pull is set) and pushes, once, and records the
// outcome. The caller holds y.round.
func (y *syncer) runRound(ctx context.Context, pull bool) error {
	start := time.Now()
	tip, err := y.s.r.Tip()
	if err == nil {
		y.mu.Lock()
		y.st.Syncing = true
		y.st.LastAttempt = stamp(start)
		y.mu.Unlock()
		err = y.exchange(ctx, pull)
	}
	now := time.Now()
	y.mu.Lock()
	defer y.mu.Unlock()
	y.st.Syncing = false
	if err != nil && errors.Is(ctx.Err(), context.Canceled) {
		y.log.Info("sync round stopped: the server is shutting down")
		return err
	}
	if errors.Is(err, errContended) {
		// Another server pushed while this one re-applied its commits:
		// pull and push again at once, before more commits pile up here.
		// The remote works, so this is no failure.
		y.st.state = "ok"
		y.st.Raced++
		y.st.nextPull = now
		y.raced = true
		y.log.Info("the remote moved while pushing; pulling and pushing again")
		return err
	}
	if err != nil {
		y.st.state = "failing"
		y.st.Failures++
		y.st.LastError = err.Error()
		y.st.LastErrorAt = stamp(now)
		delay := y.backoff(y.st.Failures)
		y.st.nextAttempt = now.Add(delay)
		y.st.nextPull = y.st.nextAttempt // retry with a fetch first
		var pending *int
		if y.remoteKnown {
			pending = y.pending(y.st.RemoteTip)
		}
		y.log.Error("sync with the remote failed; the server keeps accepting writes and retries",
			"err", err, "failures", y.st.Failures, "retry_in", delay.Round(time.Millisecond).String(), "pending_commits", pendingString(pending))
		return err
	}
	if y.st.Failures > 0 {
		y.log.Info("sync with the remote works again", "after_failures", y.st.Failures)
	}
	y.st.state, y.st.Failures, y.st.nextAttempt = "ok", 0, time.Time{}
	y.st.LastSuccess = stamp(now)
	y.lastTip = tip
	if pull {
		y.st.nextPull = now.Add(y.cfg.Interval)
	}
	return nil
}

// backoff is the delay before attempt n+1 after n failures: 1 s doubled
// each time, capped, with jitter so that servers that failed together do
// not retry together.
func (y *syncer) backoff(n int) time.Duration {
	d := y.cfg.MaxBackoff
	if n < 20 {
		d = min(d, time.Second<<(n-1))
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// exchange pulls (when pull is set) and then pushes, with the registry
// writes of this server held back, and records what happened.
//
// Pull and push hold the journal's checkpoint lock for their whole run,
// network included, and a run end waits for that lock to commit. So the
// slow parts go first, without that lock: the upload of the artifacts the
// unpushed commits reference (which the push then finds on the blob
// remote), and a fetch (a remote that is down or hangs fails there). The
// fetch is skipped right after a push was beaten, when the remote has
// just answered and speed decides the next race.
func (y *syncer) exchange(base context.Context, pull bool) error {
	timeout := y.cfg.Timeout
	select {
	case <-y.stop: // the last push, at shutdown
		timeout = min(timeout, finalPushTimeout)
	default:
	}
	ctx, cancel := context.WithTimeout(base, timeout)
	defer cancel()
	y.mu.Lock()
	raced, remoteTip, known := y.raced, y.st.RemoteTip, y.remoteKnown
	y.raced = false
	y.mu.Unlock()
	if !y.s.cfg.ReadOnly && known {
		if tip, err := y.s.r.Tip(); err == nil && tip != remoteTip && strings.Trim(tip, "0") != "" {
			rev := tip
			if remoteTip != "" {
				rev = remoteTip + ".." + tip
			}
			if err := y.uploadBlobs(ctx, rev); err != nil {
				return fmt.Errorf("upload artifacts before pushing (nothing was pushed): %w", err)
			}
		}
	}
	// The fetch imports the remote's registry tags, so it runs with the
	// registry writes held too.
	y.registry.Lock()
	defer y.registry.Unlock()
	if pull && !raced {
		if _, err := y.s.r.Fetch(ctx, repo.SyncOptions{Remote: y.cfg.Remote}); err != nil {
			return err
		}
	}
	var last *repo.SyncResult
	if pull {
		t0 := time.Now()
		res, err := y.s.r.Pull(ctx, repo.SyncOptions{Remote: y.cfg.Remote})
		y.record("pull", res, time.Since(t0))
		if err != nil {
			return err
		}
		last = res
	}
	if !y.s.cfg.ReadOnly {
		o := repo.SyncOptions{Remote: y.cfg.Remote, UploadBlobs: y.uploadBlobs, Attempts: pushAttempts}
		t0 := time.Now()
		res, err := y.s.r.Push(ctx, o)
		y.record("push", res, time.Since(t0))
		if err != nil {
			if errors.Is(err, repo.ErrConflict) && res != nil && res.Attempts >= pushAttempts {
				return fmt.Errorf("%w: %w", errContended, err)
			}
			return err
		}
		last = res
	}
	return y.updatePending(last)
}

// record logs what a pull or push did and keeps its counters.
func (y *syncer) record(op string, res *repo.SyncResult, took time.Duration) {
	if res == nil {
		return
	}
	now := time.Now()
	y.mu.Lock()
	defer y.mu.Unlock()
	for _, rn := range res.Renumbered {
		y.log.Warn(fmt.Sprintf("renumbered %s v%d -> v%d: %s took v%d first", rn.Model, rn.From, rn.To, res.Remote, rn.From),
			"model", rn.Model, "from", rn.From, "to", rn.To)
		y.st.Renumbered = append(y.st.Renumbered, renumberedJSON{Model: rn.Model, From: rn.From, To: rn.To, At: stamp(now)})
		if n := len(y.st.Renumbered); n > 100 {
			y.st.Renumbered = append([]renumberedJSON{}, y.st.Renumbered[n-100:]...)
		}
	}
	for _, m := range res.MergedExperiments {
		y.log.Info(fmt.Sprintf("merged experiment %q: this clone's id %s into %s", m.Name, m.From, m.To))
	}
	for _, t := range res.Retagged {
		y.log.Info("retagged " + t)
	}
	switch op {
	case "pull":
		y.st.Pulls++
		if res.Created || res.FastForward || res.Rebased > 0 || res.TagsFetched > 0 {
			y.log.Info("pulled", "tip", shortID(res.Tip), "fast_forward", res.FastForward, "rebased", res.Rebased, "tags_fetched", res.TagsFetched, "ms", took.Milliseconds())
		}
	case "push":
		y.st.lastPush = now
		if res.UpToDate || res.Pushed == 0 && len(res.TagsPushed) == 0 {
			return
		}
		y.st.Pushes++
		y.st.PushedCommits += res.Pushed
		y.log.Info("pushed", "commits", res.Pushed, "tags", len(res.TagsPushed), "tip", shortID(res.Tip), "attempts", res.Attempts, "ms", took.Milliseconds())
	}
	if res.RemoteTip != "" {
		y.st.RemoteTip = res.RemoteTip
	}
}

// updatePending records, after a successful round, the remote tip that
// pending commits are counted from.
func (y *syncer) updatePending(res *repo.SyncResult) error {
	tip, err := y.s.r.Tip()
	if err != nil {
		return err
	}
	y.mu.Lock()
	defer y.mu.Unlock()
	if res != nil && res.UpToDate && res.Tip == "" && strings.Trim(tip, "0") != "" {
		y.st.RemoteTip = tip // nothing to push: the remote has this tip
	}
	y.remoteKnown = true
	return nil
}

// pending counts the local commits the remote lacks, as of the last
// fetch or push (nil until a round succeeded).
func (y *syncer) pending(remoteTip string) *int {
	tip, err := y.s.r.Tip()
	if err != nil {
		return nil
	}
	if strings.Trim(tip, "0") == "" {
		tip = ""
	}
	n, err := y.s.r.CountCommits(remoteTip, tip)
	if err != nil {
		return nil
	}
	return &n
}

// uploadBlobs copies the artifacts that the commits in rev reference from
// the server's blob store to the blob remote before the refs go out.
func (y *syncer) uploadBlobs(ctx context.Context, rev string) error {
	refs, err := y.s.r.ArtifactRefsFor(rev)
	if err != nil {
		return err
	}
	names := repo.ArtifactDigests(refs)
	if len(names) == 0 {
		return nil
	}
	if y.s.cfg.Remote == nil {
		return fmt.Errorf("the commits to push reference %d artifacts, but the server has no blob remote: start it with --blob-remote URL, or set MLGIT_BLOB_REMOTE or blobs.remote in mlgit.yaml", len(names))
	}
	ds := make([]blob.Digest, 0, len(names))
	for _, n := range names {
		d, err := blob.ParseDigest(n)
		if err != nil {
			return err
		}
		ds = append(ds, d)
	}
	_, err = blob.Copy(ctx, y.s.blobs, y.s.cfg.Remote, ds, blob.CopyOptions{})
	return err
}

// status is the sync part of the status document.
func (y *syncer) status() syncStatus {
	y.mu.Lock()
	st := y.st
	st.State = st.state
	switch {
	case st.state == "failing":
		st.NextAttempt = stamp(st.nextAttempt)
	case !st.nextPull.IsZero():
		st.NextAttempt = stamp(st.nextPull)
	}
	st.Renumbered = append([]renumberedJSON{}, st.Renumbered...)
	known := y.remoteKnown
	y.mu.Unlock()
	if known {
		st.PendingCommits = y.pending(st.RemoteTip)
	}
	return st
}

// catchUp runs a pull round before a version is registered, so that the
// number it gets is past every number the remote has: two servers then
// take the same number only when they register within about one push of
// each other, and the later one renumbers (docs/sharing.md). A failing
// remote is not waited for.
func (y *syncer) catchUp() {
	y.mu.Lock()
	failing := y.st.state == "failing"
	y.mu.Unlock()
	if failing {
		return
	}
	y.round.Lock()
	defer y.round.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), catchUpTimeout)
	defer cancel()
	_ = y.runRound(ctx, true) // recorded in the status and the log
}

// holdRegistry is taken by a registry write for its whole run: it waits
// for a sync round in progress (up to registryWaitLimit) and keeps the
// next one from starting until the write has created its tags.
func (y *syncer) holdRegistry(ctx context.Context) (func(), error) {
	deadline := time.Now().Add(registryWaitLimit)
	for !y.registry.TryRLock() {
		if time.Now().After(deadline) {
			return nil, errorf(codeUnavailable, "the server is syncing with %s; retry the request", y.cfg.Remote)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return y.registry.RUnlock, nil
}

// isRegistryWrite tells the endpoints whose writes holdRegistry guards.
func isRegistryWrite(e endpoint) bool {
	return e.write && (strings.HasPrefix(e.path, "/registered-models/") || strings.HasPrefix(e.path, "/model-versions/"))
}

// statusJSON is GET /api/2.0/mlgit/status.
type statusJSON struct {
	Branch  string      `json:"branch"`
	Tip     string      `json:"tip,omitempty"`
	Version string      `json:"version"`
	Sync    *syncStatus `json:"sync"`
}

// serveStatus answers GET /api/2.0/mlgit/status: the branch, its tip and,
// for a syncing server, the sync state.
func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		s.notAccepted(w, r)
		return
	}
	out := statusJSON{Branch: s.r.Branch(), Version: s.cfg.Version}
	if tip, err := s.r.Tip(); err == nil && strings.Trim(tip, "0") != "" {
		out.Tip = tip
	}
	if s.sync != nil {
		st := s.sync.status()
		out.Sync = &st
	}
	s.writeJSON(w, http.StatusOK, out)
}

// serveSync answers POST /api/2.0/mlgit/sync, which a Git host's push
// webhook calls: it starts a pull round at once (ignoring the back-off
// of a failing remote) and answers the status; with ?wait=true it answers
// when the round is done, with its error if it failed. The body (the
// host's payload) is not read.
func (s *Server) serveSync(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.notAccepted(w, r)
		return
	}
	if s.sync == nil {
		s.writeError(w, r, errorf(codeBadRequest, "this server does not sync with a Git remote; start it with --sync REMOTE"))
		return
	}
	var roundErr error
	switch r.URL.Query().Get("wait") {
	case "", "false", "0":
		select {
		case s.sync.trigger <- struct{}{}:
		default: // a round is already asked for
		}
	case "true", "1":
		roundErr = s.sync.syncNow()
	default:
		s.writeError(w, r, errorf(codeBadRequest, "wait must be true or false, not %q", r.URL.Query().Get("wait")))
		return
	}
	st := s.sync.status()
	status := http.StatusOK
	if roundErr != nil {
		status = http.StatusBadGateway
	}
	s.writeJSON(w, status, struct {
		OK    bool        `json:"ok"`
		Error string      `json:"error,omitempty"`
		Sync  *syncStatus `json:"sync"`
	}{roundErr == nil, errString(roundErr), &st})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "the sync round timed out: " + err.Error()
	}
	return err.Error()
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func pendingString(n *int) string {
	if n == nil {
		return "unknown"
	}
	return fmt.Sprint(*n)
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// proposalRemote is where a proposal branch is pushed: the remote a
// syncing server syncs with, else origin.
func (s *Server) proposalRemote() string {
	if s.sync != nil {
		return s.sync.cfg.Remote
	}
	return ""
}
