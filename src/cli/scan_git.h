/* scan_git.h - what src/cli/scan_git.c plugs into `coffer scan` through the
 * hooks of scan_cli.h: --git [--since], --staged, --install-hook and the
 * config file (docs/scanner.md). */
#ifndef CF_CLI_SCAN_GIT_H
#define CF_CLI_SCAN_GIT_H

#include "cli/scan_cli.h"

int scan_cli_git(const struct scan_cli_opts *o, const struct scan_engine *e,
                 struct scan_report *rep);
int scan_cli_staged(const struct scan_cli_opts *o, const struct scan_engine *e,
                    struct scan_report *rep);
int scan_cli_install_hook(const struct scan_cli_opts *o);
extern const struct scan_cli_config scan_cli_config_file;

#endif
