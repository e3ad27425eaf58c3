/* `gatehouse restore FILE [--keep-sessions]`: puts a backup back as the
 * data directory's database, with no server running on it (the SQLite
 * instance lock, core/instance_lock.h, is taken for the whole command).
 * The backup is copied into the data directory and checked there (its
 * integrity and audit chain: a backup that does not verify is refused),
 * the master key must open the keys sealed in it, and, in the copy, every
 * session is revoked and every account's tokens_invalidated_at raised to
 * now (sessions ended and passwords changed after the backup would
 * otherwise come back) unless --keep-sessions, every single-use item
 * (links, sign-in challenges, nonces, idempotency records, unsent mail:
 * one spent since the backup would work again) deleted either way, with a
 * `backup.restored` audit row counting both, in one transaction. Only
 * then is the old database (and its -wal, -shm and audit.head) moved
 * aside under a name printed, the copy renamed into place, and the
 * recorded audit head reset to the restored chain's head
 * (audit/audit_head.h: the old head would call the restored log
 * truncated).
 *
 * `gatehouse restore --in-place [--keep-sessions]` does the same steps on
 * the configured database as it stands, put back by other means (on
 * PostgreSQL: pg_restore or point-in-time recovery, docs/backups.md): its
 * chain must verify and the master key open it; nothing is copied or
 * moved but audit.head. */
#ifndef GH_BACKUP_RESTORE_H
#define GH_BACKUP_RESTORE_H

/** Exit 0 when restored; 1 when the backup was refused (it does not
 *  verify, or the key does not open it); 2 on a usage or other error. */
int restore_cli(int argc, char **argv);

#endif
