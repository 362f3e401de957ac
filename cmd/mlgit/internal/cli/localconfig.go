package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mlgit/mlgit/repo"
	"gopkg.in/yaml.v3"
)

// LocalConfig is a clone's own settings, <git-dir>/mlgit/config.yaml
// (mlgit config --local).
type LocalConfig struct {
	Blobs struct {
		Remote string `yaml:"remote,omitempty"`
	} `yaml:"blobs,omitempty"`
}

func localConfigPath(r *repo.Repo) string { return filepath.Join(r.StateDir(), "config.yaml") }

// ReadLocalConfig reads the clone's own settings (none: the zero value).
func ReadLocalConfig(r *repo.Repo) (*LocalConfig, error) {
	var c LocalConfig
	data, err := os.ReadFile(localConfigPath(r))
	if errors.Is(err, os.ErrNotExist) {
		return &c, nil
	}
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", localConfigPath(r), err)
	}
	return &c, nil
}

// WriteLocalConfig writes the clone's own settings.
func WriteLocalConfig(r *repo.Repo, c *LocalConfig) error {
	data, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(r.StateDir(), 0o755); err != nil {
		return err
	}
	tmp := localConfigPath(r) + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, localConfigPath(r))
}
