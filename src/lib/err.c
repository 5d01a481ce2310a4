/* err.c - error texts and their HTTP status codes. */
#include "lib/err.h"

#include <stddef.h>

static const struct {
	int code;
	int status;
	const char *text;
} errs[] = {
        {CF_OK, 200, "success"},
        {CF_ENOMEM, 500, "out of memory"},
        {CF_EINVAL, 400, "invalid request"},
        {CF_ENOTFOUND, 404, "not found"},
        {CF_EDENIED, 403, "permission denied"},
        {CF_ESEALED, 503, "Vault is sealed"},
        {CF_EIO, 500, "storage error"},
        {CF_EEXIST, 400, "already exists"},
        {CF_ETOOBIG, 413, "request body too large"},
        {CF_EMETHOD, 405, "unsupported operation"},
        {CF_ECRYPTO, 500, "cipher: message authentication failed"},
        {CF_EUNINIT, 400, "Vault is not initialized"},
        {CF_ECAS, 400, "check-and-set parameter did not match the current version"},
        {CF_EINTERNAL, 500, "internal error"},
        {CF_EBADKEY, 400, "invalid key"},
        {CF_EAUDIT, 500, "no audit device could record the request"},
        {CF_EUNSUPPORTED, 400, "unsupported"},
        {CF_EUPSTREAM, 502, "upstream failure"},
        {CF_ERANGE, 400, "value out of range"},
        {CF_ENOROUTE, 404, "unsupported path"},
        {CF_ERATELIMIT, 429, "too many requests"},
};

const char *
cf_strerror(int r)
{
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (errs[i].code == r)
			return errs[i].text;
	return "unknown error";
}

int
cf_http_status(int r)
{
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (errs[i].code == r)
			return errs[i].status;
	return 500;
}
