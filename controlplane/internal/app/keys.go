package app

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	vault "github.com/hashicorp/vault/api"

	"github.com/secureai-nexus/nexus/controlplane/internal/keys"
	"github.com/secureai-nexus/nexus/controlplane/internal/store"
)

// KeysConfig is the data-protection keyring's part of the command line.
type KeysConfig struct {
	// VaultTransit, "[MOUNT/]KEY", wraps data keys with a Vault Transit
	// key (VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT), created derived if
	// missing; default a local keyring at <data-dir>/keys/kek.json.
	VaultTransit string
	// Retention overrides or adds classes, CLASS=DURATION[/BUCKET].
	Retention []string
	// SweepInterval is how often expired data keys are destroyed (default 1m).
	SweepInterval time.Duration
	// KEKRotation rotates the KEK once its version is older (default 720h;
	// with Vault it is also the key's auto_rotate_period).
	KEKRotation time.Duration
}

// KeyEvidence is what a compliance check reads from the running control
// plane: every data key with its class, age and state, and the KEK's
// rotation age.
type KeyEvidence interface {
	Inventory(ctx context.Context) (keys.Inventory, error)
}

func startKeys(ctx context.Context, log *slog.Logger, cfg Config, st store.Tables) (*keys.Keyring, error) {
	kc := cfg.Keys
	classes, err := keys.ApplyRetention(keys.DefaultClasses(), kc.Retention)
	if err != nil {
		return nil, err
	}
	if kc.KEKRotation == 0 {
		kc.KEKRotation = 720 * time.Hour
	}
	var kek keys.KEK = &keys.LocalKEK{Path: filepath.Join(cfg.DataDir, "keys", "kek.json")}
	if kc.VaultTransit != "" {
		mount, name := "transit", kc.VaultTransit
		if m, n, ok := strings.Cut(kc.VaultTransit, "/"); ok {
			mount, name = m, n
		}
		if mount == "" || name == "" || strings.Contains(name, "/") {
			return nil, fmt.Errorf("--kek-vault-transit %q: want [MOUNT/]KEY, e.g. transit/nexus-data", kc.VaultTransit)
		}
		client, err := vault.NewClient(vault.DefaultConfig())
		if err != nil {
			return nil, fmt.Errorf("vault client (VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT): %w", err)
		}
		v := &keys.VaultTransitKEK{Client: client, Mount: mount, Key: name}
		if err := v.Ensure(ctx, keys.TransitKeyConfig{AutoRotatePeriod: kc.KEKRotation}); err != nil {
			return nil, err
		}
		kek = v
	}
	ring, err := keys.New(ctx, keys.Options{Tables: st, KEK: kek, Classes: classes, KEKRotation: kc.KEKRotation, Log: log})
	if err != nil {
		return nil, err
	}
	go ring.Run(ctx, kc.SweepInterval)
	log.Info("data keys", "kek", kek.Name(), "classes", len(classes))
	return ring, nil
}
