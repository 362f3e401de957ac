package cloud

import (
	"context"
	"fmt"
	"strings"

	"github.com/mlgit/mlgit/blob"
)

// OpenStore opens the Google Cloud Storage or Azure Blob Storage store a
// URL names (gs://, az://, azblob://, wasbs://, wasb://, abfss://, abfs://),
// as blob.OpenStore describes them, with the official clients. It is what
// the program mlgit-blob-cloud serves; mlgit reaches these stores through
// blob.OpenStore, which runs that program.
func OpenStore(ctx context.Context, rawURL string) (blob.Store, error) {
	scheme, _, _ := strings.Cut(rawURL, "://")
	switch {
	case strings.EqualFold(scheme, "gs"):
		cfg, err := blob.ParseGCSURL(rawURL)
		if err != nil {
			return nil, err
		}
		return NewGCS(ctx, cfg)
	case blob.IsAzureURL(rawURL):
		cfg, err := blob.ParseAzureURL(rawURL)
		if err != nil {
			return nil, err
		}
		return NewAzure(ctx, cfg)
	}
	return nil, fmt.Errorf("%w: %q: not a gs:// or Azure URL", blob.ErrInvalidURL, rawURL)
}
