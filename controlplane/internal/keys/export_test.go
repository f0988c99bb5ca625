package keys_test

import "github.com/secureai-nexus/nexus/controlplane/internal/audit"

type auditRecord = audit.Record
