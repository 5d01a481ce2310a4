/* login.h - `coffer login` (src/cli/login.c) and the method-specific login
 * exchanges it calls. */
#ifndef CF_CLI_LOGIN_H
#define CF_CLI_LOGIN_H

#include <jansson.h>

/* The SRP login of docs/internals/auth.md, SRP against the srp method mounted at auth/<mount>/
 * (mount without "auth/" and without slashes, e.g. "srp"): the whole exchange,
 * computed in the CLI, so the password never leaves it. password is borrowed
 * and not wiped by the callee (the caller wipes it). Returns 0 with the final
 * answer of the server (the JSON object carrying the `auth` block of Vault's
 * login responses) in *ret_response (the caller json_decref's it), or a negative CF_E*
 * code after printing the error with cli_err. Implemented in login_srp.c. */
int login_srp(const char *mount, const char *username, const char *password, json_t **ret_response);

#endif
