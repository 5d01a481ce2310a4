/* log.h - leveled logging to stderr. Never pass secrets, request bodies or
 * tokens (log tokens by accessor). Library layers return errors and do not log;
 * the layer that answers the client logs once. */
#ifndef CF_LOG_H
#define CF_LOG_H

enum log_level { LOG_FATAL, LOG_ERROR, LOG_INFO, LOG_VERBOSE, LOG_DEBUG1, LOG_DEBUG2, LOG_DEBUG3 };

void log_set_level(enum log_level l);
/* Parses "error", "info", "debug"...; returns 0 or CF_EINVAL. */
int log_parse_level(const char *s, enum log_level *ret);
void log_msg(enum log_level l, const char *func, int line, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

#define log_error(...)   log_msg(LOG_ERROR, __func__, __LINE__, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_INFO, __func__, __LINE__, __VA_ARGS__)
#define log_verbose(...) log_msg(LOG_VERBOSE, __func__, __LINE__, __VA_ARGS__)
#define log_debug(...)   log_msg(LOG_DEBUG1, __func__, __LINE__, __VA_ARGS__)
/* _r variants append cf_strerror(r) */
#define log_error_r(r, fmt, ...)                                                                   \
	log_msg(LOG_ERROR, __func__, __LINE__, fmt ": %s", ##__VA_ARGS__, cf_strerror(r))

#endif
