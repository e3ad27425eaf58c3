/* `gatehouse backup [DIR]`: one verified backup of the SQLite database
 * (backup.h) into DIR, GATEHOUSE_BACKUP_DIR or <data dir>/backups, beside
 * a running server. Reads the configuration only: no key is loaded. */
#ifndef GH_BACKUP_BACKUP_CLI_H
#define GH_BACKUP_BACKUP_CLI_H

/** Exit 0 with what was written on stdout; 1 when the copy did not
 *  verify (it was removed); 2 on a usage or other error. */
int backup_cli(int argc, char **argv);

#endif
