package store

import "context"

// Exec lets tests tamper with the database behind the store's back.
func (s *SQLite) Exec(ctx context.Context, q string) error {
	_, err := s.db.ExecContext(ctx, q)
	return err
}
