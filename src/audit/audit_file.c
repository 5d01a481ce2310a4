/* audit_file.c - the file audit sink and its keyed chain (docs/internals/audit.md).
 *
 * Every line is  prefix + {"seq":N,"prev_hash":"<hex>",<entry fields>}  where seq
 * counts the lines of the file from 1 and prev_hash is the HMAC-SHA-256 of the
 * previous line's bytes (prefix included, newline excluded) keyed with the
 * current segment key (audit_chain.c). A chain begins with a "chain_start" line
 * (prev_hash = HMAC of "") and is cut into segments by signed "checkpoint" lines,
 * written by the background thread every cp_lines lines or cp_interval_ms, and
 * when the sink is freed (seal, disable, shutdown: "final"). Each anchor line
 * (chain start or checkpoint) is reported to the broker, which stores it behind
 * the barrier; at the next open the file's tail is checked against it.
 *
 * Group write: under the sink's mutex a line is hashed into the chain and copied
 * into the pending buffer. If no write is in progress, the caller takes the whole
 * pending buffer and writes it with one write(2) outside the mutex (a batch);
 * otherwise it waits on its own semaphore until the batch that carries its line
 * was accepted by write(2), and the finishing writer wakes one of the next
 * batch's waiters to write that batch. An entry therefore still counts as
 * recorded only once the kernel accepted it (it survives a crash of coffer), but
 * concurrent requests share the write: appends of ~1.4 kB cost the kernel
 * several times more per byte than appends of tens of kB.
 *
 * Best-effort (response) lines may be deferred: they join the chain and the
 * pending buffer at once and ride along with the next batch, or the background
 * thread writes them within AUDIT_FLUSH_MS..AUDIT_SYNC_MS. The same thread
 * fdatasync()s a dirty file every AUDIT_SYNC_MS, bounding what a power loss can
 * take. A failed write truncates the torn bytes, fails every waiting entry, drops
 * the pending lines, closes the file; the next append reopens the file and
 * re-reads its tail, so the chain stays consistent. */
#include "audit/audit_int.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <semaphore.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/secmem.h"
#include "lib/util.h"

enum audit_sink { SINK_FILE, SINK_STDOUT, SINK_DISCARD };

/* An appender waiting for the batch that carries its line (on its stack). */
struct waiter {
	struct waiter *next;
	uint64_t batch; /* number of the batch that carries the line */
	sem_t sem;
	int result; /* set before sem is posted, unless lead */
	bool lead;  /* woken to write the next batch itself */
};

/* The chain's secrets, in guarded memory (sodium_malloc). */
struct chain_secret {
	uint8_t master[AUDIT_KEY_BYTES];
	uint8_t sk[AUDIT_SK_BYTES];
	uint8_t seg[AUDIT_KEY_BYTES]; /* K(base), revealed by the next checkpoint */
};

enum line_kind { LINE_ENTRY, LINE_START, LINE_CP };

struct audit_file {
	enum audit_sink kind;
	char *path;
	char *prefix; /* "" when none */
	size_t prefix_len;
	unsigned mode;
	bool wipe; /* lines may hold plaintext secrets (log_raw): wipe buffers */

	pthread_mutex_t mu;  /* everything below */
	pthread_cond_t cv;   /* wakes the sync thread (stop) */
	pthread_cond_t idle; /* "syncing" or "writing" cleared (close waits) */
	int fd;              /* -1: closed or failed, reopened by the next append */
	bool regular;        /* fd is a regular file (truncate, fdatasync, tail) */
	off_t size;          /* bytes in a regular file (to undo a torn write) */
	uint64_t seq;        /* seq of the last line chained */
	char prev[65];       /* chain value the next line carries as prev_hash */
	struct chain_secret *sec;
	uint8_t pk[AUDIT_PK_BYTES];
	struct audit_mac mac;      /* keyed with sec->seg, reused for every line */
	uint64_t base;             /* the current segment follows line base */
	uint64_t logical;          /* file size once every chained line is written */
	struct audit_cp anchor;    /* the last anchor line chained */
	struct audit_cp anchor_ok; /* the last one known written (a reopen checks it) */
	uint64_t cp_lines;
	int64_t cp_interval_ns, last_cp_ns;
	bool cp_report; /* a checkpoint chained by an append, to report once written */
	uint64_t cp_report_batch;
	struct audit_cp cp_report_anchor;
	bool start_pending; /* a chain start chained at open, to report once written */
	bool tampered;      /* the file was truncated or altered: no more appends */
	char tamper_msg[256];
	void (*on_anchor)(void *arg, const struct audit_cp *cp);
	void *anchor_arg;
	char *pend; /* lines hashed into the chain, not yet written */
	size_t pend_len, pend_cap;
	char *wbuf; /* the batch being written (owned by the writer while writing) */
	size_t wbuf_cap;
	uint64_t batches;       /* batches started; pend belongs to batch batches + 1 */
	uint64_t lost;          /* lines of batches <= lost were not written (failure) */
	struct waiter *waiters; /* appenders waiting for their batch */
	int64_t last_sync;      /* CLOCK_MONOTONIC ns of the last fdatasync */
	bool dirty, syncing, writing, stop;
	bool thread_started;
	pthread_t thread;
};

/* Drops the file state: the pending lines die with the chain state they were
 * hashed into (the next open re-reads the tail), so every waiting appender fails
 * and the batch they were waiting for is marked lost; then fd is closed once
 * neither the sync thread nor a writer uses it. fd is -1 from the start, so no
 * new write starts on it. Called with f->mu held (released while waiting). */
static void
file_close_locked(struct audit_file *f)
{
	struct waiter *w, *next;
	int fd = f->fd;

	f->fd = -1;
	if (f->pend_len)
		secmem_wipe(f->pend, f->pend_len);
	f->pend_len = 0;
	f->lost = ++f->batches;
	for (w = f->waiters; w; w = next) {
		next = w->next; /* w may be gone once posted */
		w->result = CF_EIO;
		sem_post(&w->sem);
	}
	f->waiters = NULL;
	while (f->syncing || f->writing)
		pthread_cond_wait(&f->idle, &f->mu);
	if (fd >= 0 && f->kind == SINK_FILE)
		close(fd);
}

static int flush_locked(struct audit_file *f, struct waiter **ret_wake);
static void wake_all(struct waiter *w);
static int checkpoint_locked(struct audit_file *f, bool final, struct audit_cp *ret_cp,
                             struct waiter **wake);

static int chain_cp_locked(struct audit_file *f, bool final, uint64_t *ret_batch);
static int sync_for_anchor_locked(struct audit_file *f);
static int set_tampered(struct audit_file *f, char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* Whether a timed checkpoint is due: lines were chained since the last anchor
 * and cp_interval passed (every cp_lines lines, the append chains one itself). */
static bool
cp_due_locked(struct audit_file *f, int64_t now)
{
	if (f->fd < 0 || f->tampered || f->seq <= f->anchor.seq)
		return false;
	return now - f->last_cp_ns >= f->cp_interval_ns;
}

/* Reports a checkpoint that an append chained, once its batch was written.
 * Called with f->mu held by the sync thread; returns with it held. */
static void
report_written_cp_locked(struct audit_file *f)
{
	void (*hook)(void *, const struct audit_cp *) = f->on_anchor;
	void *arg = f->anchor_arg;
	uint64_t b = f->cp_report_batch;
	struct audit_cp cp;

	if (!f->cp_report || f->batches < b || (f->batches == b && f->writing))
		return;
	f->cp_report = false;
	if (b <= f->lost)
		return; /* the line was lost with its batch (the file is reopened) */
	cp = f->cp_report_anchor;
	f->anchor_ok = cp;
	if (!hook || sync_for_anchor_locked(f) < 0)
		return;
	pthread_mutex_unlock(&f->mu);
	hook(arg, &cp);
	pthread_mutex_lock(&f->mu);
}

/* fdatasync()s the file before an anchor is reported: the broker stores it in
 * durable storage, which must never hold an anchor that a power loss could take
 * from the file (the next start would call the file tampered). Once per anchor,
 * off the request path. Called with f->mu held (released during the sync). */
static int
sync_for_anchor_locked(struct audit_file *f)
{
	int fd = f->fd, r = 0;

	if (fd < 0 || !f->regular)
		return 0;
	while (f->syncing)
		pthread_cond_wait(&f->idle, &f->mu);
	if (f->fd != fd)
		return CF_EIO;
	f->syncing = true;
	f->dirty = false;
	pthread_mutex_unlock(&f->mu);
	if (fdatasync(fd) < 0 && errno != EINVAL && errno != EROFS)
		r = CF_EIO;
	pthread_mutex_lock(&f->mu);
	f->syncing = false;
	f->last_sync = util_mono_ns();
	pthread_cond_broadcast(&f->idle);
	return r;
}

/* Writes a checkpoint and reports it (outside the mutex). Called with f->mu
 * held; returns with it held. */
static void
checkpoint_and_report(struct audit_file *f, bool final)
{
	void (*hook)(void *, const struct audit_cp *) = f->on_anchor;
	void *arg = f->anchor_arg;
	struct waiter *wake = NULL;
	struct audit_cp cp;
	int r;

	r = checkpoint_locked(f, final, &cp, &wake);
	if (wake) {
		pthread_mutex_unlock(&f->mu);
		wake_all(wake);
		pthread_mutex_lock(&f->mu);
	}
	if (r == 0)
		r = sync_for_anchor_locked(f);
	if (r < 0 || !hook)
		return;
	pthread_mutex_unlock(&f->mu);
	hook(arg, &cp);
	pthread_mutex_lock(&f->mu);
}

/* The background thread: writes deferred lines every AUDIT_FLUSH_MS while there
 * is activity, and fdatasync()s a dirty file every AUDIT_SYNC_MS. */
static void *
sync_main(void *arg)
{
	struct audit_file *f = arg;
	struct timespec ts;
	int64_t wait_ms, deadline;
	struct waiter *wake;
	int fd;

	pthread_mutex_lock(&f->mu);
	while (!f->stop) {
		wait_ms = f->pend_len || f->dirty || f->cp_report ? AUDIT_FLUSH_MS : AUDIT_SYNC_MS;
		deadline = util_mono_ns() + wait_ms * 1000000LL;
		ts.tv_sec = (time_t)(deadline / 1000000000LL);
		ts.tv_nsec = (long)(deadline % 1000000000LL);
		(void)pthread_cond_timedwait(&f->cv, &f->mu, &ts);
		if (f->stop)
			break;
		if (f->pend_len && f->fd >= 0 && !f->writing) {
			wake = NULL;
			(void)flush_locked(f, &wake);
			if (wake) {
				pthread_mutex_unlock(&f->mu);
				wake_all(wake);
				pthread_mutex_lock(&f->mu);
			}
		}
		if (f->stop)
			break;
		report_written_cp_locked(f);
		if (cp_due_locked(f, util_mono_ns()))
			checkpoint_and_report(f, false);
		if (!f->dirty || f->fd < 0 || !f->regular || f->syncing ||
		    util_mono_ns() - f->last_sync < AUDIT_SYNC_MS * 1000000LL)
			continue;
		fd = f->fd;
		f->dirty = false;
		f->syncing = true;
		pthread_mutex_unlock(&f->mu);
		/* Outside the mutex: appends go on while the disk commits. close()
		 * waits for syncing to clear, so fd stays valid here. */
		if (fdatasync(fd) < 0 && errno != EINVAL && errno != EROFS) {
			pthread_mutex_lock(&f->mu);
			f->syncing = false;
			/* Lines may be lost: fail over to a reopen (and a re-read tail). */
			pthread_cond_broadcast(&f->idle);
			if (f->fd == fd)
				file_close_locked(f);
			continue;
		}
		pthread_mutex_lock(&f->mu);
		f->syncing = false;
		f->last_sync = util_mono_ns();
		pthread_cond_broadcast(&f->idle);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

int
audit_file_new(const char *file_path, unsigned mode, const char *prefix, bool wipe,
               const struct audit_file_chain *chain, struct audit_file **ret)
{
	struct audit_file *f;
	pthread_condattr_t ca;
	int r = CF_ENOMEM;

	f = calloc(1, sizeof(*f));
	if (!f)
		return CF_ENOMEM;
	f->fd = -1;
	f->mode = mode;
	f->wipe = wipe;
	if (strcmp(file_path, "stdout") == 0)
		f->kind = SINK_STDOUT;
	else if (strcmp(file_path, "discard") == 0)
		f->kind = SINK_DISCARD;
	else
		f->kind = SINK_FILE;
	f->path = strdup(file_path);
	f->prefix = strdup(prefix ? prefix : "");
	f->sec = sodium_malloc(sizeof(*f->sec));
	if (!f->path || !f->prefix || !f->sec || audit_mac_init(&f->mac) < 0)
		goto fail;
	memcpy(f->sec->master, chain->master, AUDIT_KEY_BYTES);
	r = audit_chain_keypair(chain->seed, f->pk, f->sec->sk);
	if (r < 0)
		goto fail;
	r = CF_ENOMEM;
	f->cp_lines = chain->cp_lines ? chain->cp_lines : AUDIT_CP_LINES;
	f->cp_interval_ns =
	        (chain->cp_interval_ms > 0 ? chain->cp_interval_ms : AUDIT_CP_INTERVAL_MS) *
	        1000000LL;
	f->on_anchor = chain->on_anchor;
	f->anchor_arg = chain->arg;
	f->prefix_len = strlen(f->prefix);
	{
		pthread_mutexattr_t ma;
		pthread_mutexattr_init(&ma);
		pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
		pthread_mutex_init(&f->mu, &ma);
		pthread_mutexattr_destroy(&ma);
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&f->idle, NULL);
	if (f->kind == SINK_FILE) {
		if (pthread_create(&f->thread, NULL, sync_main, f) != 0) {
			pthread_cond_destroy(&f->idle);
			pthread_cond_destroy(&f->cv);
			pthread_mutex_destroy(&f->mu);
			goto fail;
		}
		f->thread_started = true;
	}
	*ret = f;
	return 0;
fail:
	audit_mac_free(&f->mac);
	if (f->sec)
		sodium_free(f->sec); /* wipes */
	free(f->prefix);
	free(f->path);
	free(f);
	return r;
}

void
audit_file_free(struct audit_file *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->mu);
	f->stop = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	if (f->thread_started)
		pthread_join(f->thread, NULL);
	pthread_mutex_lock(&f->mu);
	while (f->writing)
		pthread_cond_wait(&f->idle, &f->mu);
	/* Seal, disable, shutdown: a final checkpoint signs the end of the file
	 * (it writes what is pending with it). */
	if (f->fd >= 0 && !f->tampered && f->kind != SINK_DISCARD)
		checkpoint_and_report(f, true);
	if (f->fd >= 0 && f->pend_len) {
		struct waiter *wake = NULL;
		(void)flush_locked(f, &wake);
		wake_all(wake); /* none: nobody appends during free */
	}
	if (f->fd >= 0 && f->regular && f->dirty)
		(void)fdatasync(f->fd);
	file_close_locked(f);
	pthread_mutex_unlock(&f->mu);
	if (f->pend)
		secmem_free(f->pend, f->pend_cap);
	if (f->wbuf)
		secmem_free(f->wbuf, f->wbuf_cap);
	pthread_cond_destroy(&f->idle);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	audit_mac_free(&f->mac);
	sodium_free(f->sec); /* wipes */
	free(f->prefix);
	free(f->path);
	free(f);
}

bool
audit_file_tampered(struct audit_file *f, char *msg, size_t msglen)
{
	bool t;

	pthread_mutex_lock(&f->mu);
	t = f->tampered;
	if (t && msg && msglen)
		snprintf(msg, msglen, "%s", f->tamper_msg);
	pthread_mutex_unlock(&f->mu);
	return t;
}

void
audit_file_set_tampered(struct audit_file *f, const char *msg)
{
	char err[8];

	pthread_mutex_lock(&f->mu);
	if (!f->tampered) {
		(void)set_tampered(f, err, sizeof(err), "%s", msg);
		file_close_locked(f); /* drops what is pending: it would follow the cut */
	}
	pthread_mutex_unlock(&f->mu);
}

void
audit_file_forget_anchor(struct audit_file *f)
{
	pthread_mutex_lock(&f->mu);
	f->on_anchor = NULL;
	f->anchor_arg = NULL;
	pthread_mutex_unlock(&f->mu);
}

void
audit_file_public_key(struct audit_file *f, uint8_t pk[AUDIT_PK_BYTES])
{
	memcpy(pk, f->pk, AUDIT_PK_BYTES);
}

uint64_t
audit_file_seq(struct audit_file *f)
{
	uint64_t s;

	pthread_mutex_lock(&f->mu);
	s = f->seq;
	pthread_mutex_unlock(&f->mu);
	return s;
}

/* Offset just after the last '\n' strictly before `end`, 0 when there is none. */
static int
find_line_start(int fd, off_t end, off_t *ret)
{
	char buf[65536];
	off_t pos = end;
	ssize_t n;

	while (pos > 0) {
		size_t want = pos > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)pos;
		n = pread(fd, buf, want, pos - (off_t)want);
		if (n != (ssize_t)want)
			return CF_EIO;
		for (size_t i = want; i > 0; i--) {
			if (buf[i - 1] == '\n') {
				*ret = pos - (off_t)want + (off_t)i;
				return 0;
			}
		}
		pos -= (off_t)want;
	}
	*ret = 0;
	return 0;
}

/* Counts the newlines of the whole file (the fallback when the last line carries
 * no usable seq). */
static int
count_lines(int fd, off_t size, uint64_t *ret)
{
	char buf[65536];
	uint64_t n = 0;
	off_t pos = 0;
	ssize_t got;

	while (pos < size) {
		got = pread(fd, buf, sizeof(buf), pos);
		if (got <= 0)
			return CF_EIO;
		for (ssize_t i = 0; i < got; i++)
			n += buf[i] == '\n';
		pos += got;
	}
	*ret = n;
	return 0;
}

static int append_locked(struct audit_file *f, enum line_kind kind, const char *body, size_t n,
                         uint64_t *ret_batch);
static int wait_locked(struct audit_file *f, uint64_t batch, struct waiter **wake);

/* Marks the sink tampered with a reason (also copied to err); returns CF_ECRYPTO. */
static int
set_tampered(struct audit_file *f, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(f->tamper_msg, sizeof(f->tamper_msg), fmt, ap);
	va_end(ap);
	f->tampered = true;
	snprintf(err, errlen, "%s", f->tamper_msg);
	return CF_ECRYPTO;
}

/* Reads the line [start, start + len) into a malloc'd NUL-terminated buffer. */
static int
read_line(int fd, off_t start, size_t len, char **ret)
{
	char *line;

	if (len > AUDIT_LINE_MAX)
		return CF_EIO;
	line = malloc(len + 1);
	if (!line)
		return CF_ENOMEM;
	if (pread(fd, line, len, start) != (ssize_t)len) {
		free(line);
		return CF_EIO;
	}
	line[len] = '\0';
	*ret = line;
	return 0;
}

/* Chains a chain-start line (left pending; audit_file_open writes it). The new
 * chain's first segment follows the file's last line (f->seq). */
static int
start_chain_locked(struct audit_file *f)
{
	char body[256], when[40], *pk;
	uint64_t batch;
	int n, r;

	pk = util_b64_encode(f->pk, AUDIT_PK_BYTES);
	if (!pk)
		return CF_ENOMEM;
	util_rfc3339(util_now_ns(), when, sizeof(when));
	n = snprintf(body, sizeof(body),
	             "{\"time\":\"%s\",\"type\":\"chain_start\",\"public_key\":\"%s\"}", when, pk);
	free(pk);
	if (n < 0 || (size_t)n >= sizeof(body))
		return CF_EINTERNAL;
	r = append_locked(f, LINE_START, body, (size_t)n, &batch);
	if (r == 0)
		f->start_pending = true;
	return r;
}

/* The seq of the file's last line: its "seq", or the line count when it has none
 * (a log written by something else). 0 for an empty file. */
static int
last_seq(struct audit_file *f, off_t size, uint64_t *ret, char *err, size_t errlen)
{
	off_t start;
	char *line = NULL;
	size_t len;
	json_t *j = NULL;
	const char *brace;
	int r;

	*ret = 0;
	if (size == 0)
		return 0;
	r = find_line_start(f->fd, size - 1, &start);
	if (r < 0) {
		snprintf(err, errlen, "cannot read the last line");
		return r;
	}
	len = (size_t)(size - 1 - start);
	r = read_line(f->fd, start, len, &line);
	if (r < 0) {
		snprintf(err, errlen, "cannot read the last line");
		return r;
	}
	brace = memchr(line, '{', len);
	if (brace)
		j = json_loadb(brace, len - (size_t)(brace - line), 0, NULL);
	if (j && json_is_integer(json_object_get(j, "seq")) &&
	    json_integer_value(json_object_get(j, "seq")) > 0) {
		*ret = (uint64_t)json_integer_value(json_object_get(j, "seq"));
	} else {
		r = count_lines(f->fd, size, ret);
		if (r < 0)
			snprintf(err, errlen, "cannot count lines");
	}
	json_decref(j);
	secmem_free(line, len);
	return r;
}

/* Checks the tail of the file against the anchor line last stored (or, on a
 * reopen, last written): it must still end at anchor->offset with the same
 * bytes, and every line after it must continue the keyed chain. On success the
 * chain continues from the file's end. Called with f->mu held. */
static int
tail_check(struct audit_file *f, const struct audit_cp *a, off_t size, char *err, size_t errlen)
{
	struct audit_verify_opts o = {.fd = f->fd, .from = (off_t)a->offset};
	struct audit_verify_result *res = NULL;
	char *line = NULL, digest[65], last = 0;
	const char *brace, *type;
	off_t start;
	size_t len = 0;
	json_t *j = NULL;
	int r;

	if ((uint64_t)size < a->offset)
		return set_tampered(f, err, errlen,
		                    "the file is %lld bytes, shorter than at its last checkpoint "
		                    "(seq %llu, %llu bytes): it was truncated",
		                    (long long)size, (unsigned long long)a->seq,
		                    (unsigned long long)a->offset);
	if (a->offset == 0 || pread(f->fd, &last, 1, (off_t)a->offset - 1) != 1 || last != '\n')
		return set_tampered(f, err, errlen,
		                    "no line ends where the checkpoint of seq %llu ended: the file "
		                    "was altered or replaced",
		                    (unsigned long long)a->seq);
	r = find_line_start(f->fd, (off_t)a->offset - 1, &start);
	if (r == 0) {
		len = (size_t)((off_t)a->offset - 1 - start);
		r = read_line(f->fd, start, len, &line);
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot read the checkpoint line back");
		return r;
	}
	util_sha256_hex(line, len, digest);
	brace = memchr(line, '{', len);
	if (brace)
		j = json_loadb(brace, len - (size_t)(brace - line), 0, NULL);
	type = json_string_value(json_object_get(j, "type"));
	if (strcmp(digest, a->digest) != 0 || !type ||
	    json_integer_value(json_object_get(j, "seq")) != (json_int_t)a->seq) {
		r = set_tampered(f, err, errlen,
		                 "the checkpoint line of seq %llu was altered, or the file was "
		                 "replaced",
		                 (unsigned long long)a->seq);
		goto out;
	}
	o.master = f->sec->master;
	o.pk = f->pk;
	o.resume = true;
	o.resume_seq = a->seq;
	o.resume_base = strcmp(type, "chain_start") == 0 ? a->seq - 1 : a->seq;
	audit_chain_segment_key(f->sec->master, o.resume_base, f->sec->seg);
	r = audit_mac_key(&f->mac, f->sec->seg);
	if (r == 0)
		r = audit_mac_line_hex(&f->mac, line, len, o.resume_prev);
	if (r < 0)
		goto out;
	res = calloc(1, sizeof(*res));
	if (!res) {
		r = CF_ENOMEM;
		goto out;
	}
	r = audit_verify_run(&o, res);
	if (r == CF_EINVAL) {
		r = set_tampered(f, err, errlen, "after the checkpoint of seq %llu: %s",
		                 (unsigned long long)a->seq, res->msg);
		goto out;
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot check the file's tail: %s", res->msg);
		goto out;
	}
	f->seq = res->seq;
	f->base = res->base;
	memcpy(f->prev, res->prev, sizeof(f->prev));
	memcpy(f->sec->seg, res->seg_key, AUDIT_KEY_BYTES);
	r = audit_mac_key(&f->mac, f->sec->seg);
	f->anchor = res->cp.seq ? res->cp : *a;
	f->anchor_ok = f->anchor;
out:
	secmem_free(res, sizeof(*res));
	json_decref(j);
	secmem_free(line, len);
	return r;
}

/* Reads the chain state back from the file (see audit_file_open). Called with
 * f->mu held. */
static int
file_resync(struct audit_file *f, const struct audit_cp *stored, char *err, size_t errlen)
{
	struct stat st;
	off_t size, start;
	char last;
	int r;

	if (fstat(f->fd, &st) < 0) {
		snprintf(err, errlen, "stat: %s", strerror(errno));
		return CF_EIO;
	}
	f->regular = S_ISREG(st.st_mode);
	f->logical = 0;
	if (!f->regular)
		return start_chain_locked(f); /* a pipe or device: numbers go on */
	size = st.st_size;
	if (size > 0) {
		if (pread(f->fd, &last, 1, size - 1) != 1) {
			snprintf(err, errlen, "read: %s", strerror(errno));
			return CF_EIO;
		}
		if (last != '\n') {
			/* A torn last line was never acknowledged: cut it off. */
			r = find_line_start(f->fd, size, &start);
			if (r < 0 || ftruncate(f->fd, start) < 0) {
				snprintf(err, errlen, "cannot truncate a torn last line");
				return CF_EIO;
			}
			size = start;
		}
	}
	f->size = size;
	f->logical = (uint64_t)size;
	if (stored && stored->seq > 0)
		return tail_check(f, stored, size, err, errlen);
	/* No anchor (a new device): a new chain begins after what the file holds. */
	r = last_seq(f, size, &f->seq, err, errlen);
	if (r < 0)
		return r;
	return start_chain_locked(f);
}

static int
file_open_locked(struct audit_file *f, const struct audit_cp *stored, char *err, size_t errlen)
{
	int fd, r;

	file_close_locked(f);
	f->start_pending = false;
	/* Kept even if this open fails: a later reopen must still find the file
	 * ending as stored (a file removed meanwhile is one cut to nothing). */
	if (stored && stored->seq)
		f->anchor_ok = *stored;
	if (f->tampered) {
		snprintf(err, errlen, "%s", f->tamper_msg);
		return CF_ECRYPTO;
	}
	if (f->kind == SINK_DISCARD)
		return 0;
	f->last_cp_ns = util_mono_ns();
	if (f->kind == SINK_STDOUT) {
		f->fd = STDOUT_FILENO;
		f->regular = false;
		return start_chain_locked(f);
	}
	/* O_RDWR: the tail is read back to continue the chain. */
	fd = open(f->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
	          f->mode ? (mode_t)f->mode : (mode_t)AUDIT_FILE_DEFAULT_MODE);
	if (fd < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		return CF_EIO;
	}
	f->fd = fd;
	if (f->mode) {
		struct stat st;
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) != f->mode &&
		    fchmod(fd, (mode_t)f->mode) < 0) {
			snprintf(err, errlen, "chmod: %s", strerror(errno));
			r = CF_EIO;
			goto fail;
		}
	}
	r = file_resync(f, stored, err, errlen);
	if (r < 0)
		goto fail;
	return 0;
fail:
	file_close_locked(f); /* drops a chain start chained meanwhile */
	return r;
}

int
audit_file_open(struct audit_file *f, const struct audit_cp *stored, char *err, size_t errlen)
{
	void (*hook)(void *, const struct audit_cp *) = NULL;
	struct waiter *wake = NULL;
	struct audit_cp cp;
	int r;

	pthread_mutex_lock(&f->mu);
	r = file_open_locked(f, stored, err, errlen);
	if (r == 0 && f->start_pending) {
		/* Write the chain start now, and report it as the first anchor. */
		f->start_pending = false;
		cp = f->anchor;
		r = f->pend_len ? wait_locked(f, f->batches + 1, &wake) : 0;
		if (r == 0) {
			f->anchor_ok = cp;
			if (f->regular && sync_for_anchor_locked(f) == 0)
				hook = f->on_anchor;
		} else {
			/* Opened but not writable (a full disk, /dev/full): the device
			 * stays in the failed state, refusing requests until a reopen
			 * can write (no unaudited access). */
			r = 0;
		}
	}
	pthread_mutex_unlock(&f->mu);
	wake_all(wake);
	if (hook)
		hook(f->anchor_arg, &cp);
	return r;
}

/* write(2) until everything is written; returns the bytes written (< len on error). */
static size_t
write_all(int fd, const char *p, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = write(fd, p + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return done;
}

/* Writes {"seq":N,"prev_hash":"<hex>" (and a ',' when the entry has fields)
 * into hdr (>= 128 bytes); returns its length. */
static int
format_header(char *hdr, uint64_t seq, const char prev[65], bool comma)
{
	static const char a[] = "{\"seq\":", b[] = ",\"prev_hash\":\"";
	char digits[24], *d = digits + sizeof(digits);
	size_t n = 0, dl;

	do {
		*--d = (char)('0' + seq % 10);
		seq /= 10;
	} while (seq);
	dl = (size_t)(digits + sizeof(digits) - d);
	memcpy(hdr, a, sizeof(a) - 1);
	n += sizeof(a) - 1;
	memcpy(hdr + n, d, dl);
	n += dl;
	memcpy(hdr + n, b, sizeof(b) - 1);
	n += sizeof(b) - 1;
	memcpy(hdr + n, prev, 64);
	n += 64;
	hdr[n++] = '"';
	if (comma)
		hdr[n++] = ',';
	return (int)n;
}

/* Posts every waiter of a list detached by flush_locked. Call without f->mu. */
static void
wake_all(struct waiter *w)
{
	struct waiter *next;

	for (; w; w = next) {
		next = w->next; /* w may be gone once posted */
		sem_post(&w->sem);
	}
}

/* Writes the pending buffer as one batch with one write(2), outside the mutex.
 * Called with f->mu held, f->fd open and no write in progress; returns with it
 * held. The waiters whose lines the batch carried are detached into *ret_wake
 * with their result, plus one waiter of the next batch (if any) marked lead to
 * write that one; the caller posts them with wake_all() after unlocking. On
 * failure the torn bytes are cut off, every waiter fails (the pending lines are
 * chained to the failed ones and are dropped), and the file is closed: the next
 * append reopens it and re-reads the tail. Returns 0 or CF_EIO. */
static int
flush_locked(struct audit_file *f, struct waiter **ret_wake)
{
	struct waiter **pp, *w, *wake = NULL, *lead = NULL;
	char *buf;
	size_t len, done, cap;
	uint64_t batch;
	off_t size = f->size;
	int fd = f->fd, r = 0;

	if (f->pend_len == 0)
		return 0;
	buf = f->pend;
	len = f->pend_len;
	cap = f->pend_cap;
	f->pend = f->wbuf;
	f->pend_cap = f->wbuf_cap;
	f->pend_len = 0;
	f->wbuf = NULL;
	f->wbuf_cap = 0;
	batch = ++f->batches;
	f->writing = true;
	pthread_mutex_unlock(&f->mu);
	done = write_all(fd, buf, len);
	if (f->wipe)
		secmem_wipe(buf, len);
	pthread_mutex_lock(&f->mu);
	f->writing = false;
	/* Lines that arrived meanwhile are in f->pend; buf is the spare now. */
	f->wbuf = buf;
	f->wbuf_cap = cap;
	if (done != len) {
		r = CF_EIO;
		if (f->lost < batch)
			f->lost = batch;
		if (f->kind != SINK_STDOUT) {
			/* Cut the torn bytes (fd stays open until the close below,
			 * which happens under the mutex), then fail everyone waiting. */
			if (done > 0 && f->regular)
				(void)!ftruncate(fd, size);
			if (f->fd == fd)
				file_close_locked(f);
			goto out;
		}
	} else if (f->fd == fd) {
		f->size += (off_t)len;
		f->dirty = true;
	}
	for (pp = &f->waiters; *pp;) {
		w = *pp;
		if (w->batch <= batch) {
			*pp = w->next;
			w->result = r;
			w->next = wake;
			wake = w;
		} else if (!lead) {
			*pp = w->next;
			w->lead = true;
			lead = w;
		} else {
			pp = &w->next;
		}
	}
	if (lead) {
		lead->next = wake;
		wake = lead;
	}
out:
	pthread_cond_broadcast(&f->idle); /* close waits for !writing */
	*ret_wake = wake;
	return r;
}

/* Copies a line into the pending buffer; false when memory is short. */
static bool
pend_locked(struct audit_file *f, const struct iovec *iov, int cnt, size_t total)
{
	size_t cap;
	char *p;

	if (f->pend_len + total > f->pend_cap) {
		cap = f->pend_cap ? f->pend_cap : 65536;
		while (cap < f->pend_len + total)
			cap *= 2;
		p = malloc(cap);
		if (!p)
			return false;
		if (f->pend) {
			memcpy(p, f->pend, f->pend_len);
			secmem_free(f->pend, f->pend_cap);
		}
		f->pend = p;
		f->pend_cap = cap;
	}
	for (int i = 0; i < cnt; i++) {
		memcpy(f->pend + f->pend_len, iov[i].iov_base, iov[i].iov_len);
		f->pend_len += iov[i].iov_len;
	}
	return true;
}

/* Chains one line (body is a JSON object) into the pending buffer: opens the
 * file if needed, writes the seq/prev_hash header, computes the line's chain
 * value. A chain start first keys a new segment (prev_hash = HMAC of ""); a
 * checkpoint ends its segment, so its own chain value is computed with the key
 * of the segment it opens. Called with f->mu held; *ret_batch is the number of
 * the batch that will carry the line. */
static int
append_locked(struct audit_file *f, enum line_kind kind, const char *body, size_t n,
              uint64_t *ret_batch)
{
	char hdr[128], err[256], next[65];
	struct audit_cp a;
	struct iovec iov[4];
	size_t total = 0;
	int hl, cnt = 0, r;

	if (f->tampered)
		return CF_EIO;
	if (f->fd < 0) {
		/* A reopen after a failure: the file must still end as written. */
		a = f->anchor_ok;
		if (file_open_locked(f, a.seq ? &a : NULL, err, sizeof(err)) < 0)
			return CF_EIO;
		f->start_pending = false;
	}
	if (kind == LINE_START) {
		f->base = f->seq;
		audit_chain_segment_key(f->sec->master, f->base, f->sec->seg);
		r = audit_mac_key(&f->mac, f->sec->seg);
		if (r == 0)
			r = audit_mac_hex(&f->mac, NULL, 0, f->prev);
		if (r < 0)
			return r;
	}
	hl = format_header(hdr, f->seq + 1, f->prev, n > 2);
	if (f->prefix_len)
		iov[cnt++] = (struct iovec){f->prefix, f->prefix_len};
	iov[cnt++] = (struct iovec){hdr, (size_t)hl};
	iov[cnt++] = (struct iovec){(void *)(body + 1), n - 1}; /* drops body's '{' */
	for (int i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	if (kind == LINE_CP) {
		f->base = f->seq + 1;
		audit_chain_segment_key(f->sec->master, f->base, f->sec->seg);
		r = audit_mac_key(&f->mac, f->sec->seg);
		if (r < 0)
			return r;
	}
	r = audit_mac_hex(&f->mac, iov, cnt, next);
	if (r < 0)
		return r;
	if (kind != LINE_ENTRY) {
		/* An anchor: what the broker stores and the next open checks. */
		char *line = malloc(total);
		size_t off = 0;
		if (!line)
			return CF_ENOMEM;
		for (int i = 0; i < cnt; i++) {
			memcpy(line + off, iov[i].iov_base, iov[i].iov_len);
			off += iov[i].iov_len;
		}
		util_sha256_hex(line, total, f->anchor.digest);
		free(line);
		f->anchor.seq = f->seq + 1;
		f->anchor.offset = f->logical + total + 1;
	}
	iov[cnt++] = (struct iovec){"\n", 1};
	total++;
	if (!pend_locked(f, iov, cnt, total))
		return CF_ENOMEM;
	f->seq++;
	f->logical += total;
	memcpy(f->prev, next, sizeof(next));
	*ret_batch = f->batches + 1;
	if (kind == LINE_ENTRY && f->seq - f->base >= f->cp_lines && f->thread_started) {
		/* Every cp_lines lines a checkpoint follows in the same batch (its
		 * signature costs ~50 us under the mutex once per cp_lines lines).
		 * The sync thread stores it once written: no storage write here. */
		uint64_t b;
		if (chain_cp_locked(f, false, &b) == 0) {
			f->cp_report = true;
			f->cp_report_batch = b;
			f->cp_report_anchor = f->anchor;
			pthread_cond_signal(&f->cv);
		}
	}
	return 0;
}

/* Chains a checkpoint line: it signs (seq, base, its prev_hash, K(base), final)
 * and reveals K(base). *ret_batch is the batch that will carry it. Called with
 * f->mu held. */
static int
chain_cp_locked(struct audit_file *f, bool final, uint64_t *ret_batch)
{
	char msg[512], body[512], when[40], key_hex[2 * AUDIT_KEY_BYTES + 1];
	uint8_t sig[AUDIT_SIG_BYTES];
	uint64_t batch;
	size_t mlen;
	char *sig64 = NULL;
	int n, r;

	if (f->fd < 0 || f->tampered || f->kind == SINK_DISCARD)
		return CF_EIO;
	util_hex(f->sec->seg, AUDIT_KEY_BYTES, key_hex);
	util_rfc3339(util_now_ns(), when, sizeof(when));
	mlen = audit_chain_cp_message(msg, sizeof(msg), f->seq + 1, f->base, f->prev, key_hex,
	                              final, when);
	r = mlen ? audit_chain_sign(f->sec->sk, msg, mlen, sig) : CF_EINTERNAL;
	if (r < 0)
		goto out;
	sig64 = util_b64_encode(sig, sizeof(sig));
	if (!sig64) {
		r = CF_ENOMEM;
		goto out;
	}
	n = snprintf(body, sizeof(body),
	             "{\"time\":\"%s\",\"type\":\"checkpoint\",\"base\":%llu,\"key\":\"%s\","
	             "\"final\":%s,\"signature\":\"%s\"}",
	             when, (unsigned long long)f->base, key_hex, final ? "true" : "false", sig64);
	if (n < 0 || (size_t)n >= sizeof(body)) {
		r = CF_EINTERNAL;
		goto out;
	}
	r = append_locked(f, LINE_CP, body, (size_t)n, &batch);
	if (r < 0)
		goto out;
	f->last_cp_ns = util_mono_ns();
	*ret_batch = batch;
out:
	secmem_wipe(key_hex, sizeof(key_hex));
	secmem_wipe(msg, sizeof(msg));
	secmem_wipe(body, sizeof(body));
	free(sig64);
	return r;
}

/* Chains a checkpoint and waits until it is written; *ret_cp is the anchor to
 * report. Called with f->mu held (released while writing). */
static int
checkpoint_locked(struct audit_file *f, bool final, struct audit_cp *ret_cp, struct waiter **wake)
{
	uint64_t batch;
	int r;

	r = chain_cp_locked(f, final, &batch);
	if (r < 0)
		return r;
	*ret_cp = f->anchor;
	f->cp_report = false; /* this one supersedes a checkpoint not yet reported */
	r = wait_locked(f, batch, wake);
	if (r == 0)
		f->anchor_ok = *ret_cp;
	return r;
}

int
audit_file_head(struct audit_file *f, uint64_t *ret_seq, char ret_prev[65])
{
	struct waiter *wake = NULL;
	uint64_t seq, batch;
	char prev[65];
	int r = 0;

	pthread_mutex_lock(&f->mu);
	if (f->tampered || (f->fd < 0 && f->kind != SINK_DISCARD)) {
		pthread_mutex_unlock(&f->mu);
		return CF_EIO;
	}
	/* Everything chained so far, once written. */
	seq = f->seq;
	memcpy(prev, f->prev, sizeof(prev));
	batch = f->pend_len ? f->batches + 1 : f->batches;
	if (batch > 0 && (f->pend_len || f->writing))
		r = wait_locked(f, batch, &wake);
	pthread_mutex_unlock(&f->mu);
	wake_all(wake);
	if (r < 0)
		return r;
	*ret_seq = seq;
	memcpy(ret_prev, prev, 65);
	return 0;
}

/* Returns once the batch numbered batch was written (0) or lost (CF_EIO):
 * writes it itself when nobody is writing, else waits for the write in
 * progress. Called with f->mu held (released while writing or waiting); the
 * waiters to post after unlocking are added to *wake. */
static int
wait_locked(struct audit_file *f, uint64_t batch, struct waiter **wake)
{
	struct waiter self;
	int r;

	for (;;) {
		if (f->batches >= batch && !f->writing) {
			/* Written meanwhile: by another writer (a request, the
			 * background flush, or a close). */
			return batch <= f->lost ? CF_EIO : 0;
		}
		if (!f->writing) {
			/* Nobody writes: this caller writes the batch carrying its line
			 * (and everything pending with it). */
			if (f->fd < 0)
				return CF_EIO;
			return flush_locked(f, wake);
		}
		/* Wait for the write in progress: the waiters it carried are woken
		 * with its result, and one waiter of the next batch to write it. */
		self.batch = batch;
		self.result = 0;
		self.lead = false;
		if (sem_init(&self.sem, 0, 0) < 0)
			return CF_EINTERNAL;
		self.next = f->waiters;
		f->waiters = &self;
		pthread_mutex_unlock(&f->mu);
		while (sem_wait(&self.sem) < 0 && errno == EINTR)
			;
		sem_destroy(&self.sem);
		pthread_mutex_lock(&f->mu);
		if (!self.lead) {
			r = self.result;
			return r;
		}
	}
}

/* Chains a line and writes it now when wait is set, the sink is not a file, or
 * lines piled up past AUDIT_PEND_MAX with no write in progress; otherwise it
 * stays pending and *ret_batch names the batch that will carry it (0 when it
 * was written here or the sink discards). */
static int
append_line(struct audit_file *f, const char *body, size_t n, bool wait, uint64_t *ret_batch)
{
	struct waiter *wake = NULL;
	uint64_t batch = 0;
	int r;

	*ret_batch = 0;
	if (n < 2 || body[0] != '{' || body[n - 1] != '}')
		return CF_EINVAL;
	if (f->kind == SINK_DISCARD)
		return 0;
	pthread_mutex_lock(&f->mu);
	r = append_locked(f, LINE_ENTRY, body, n, &batch);
	if (r == 0 &&
	    (wait || f->kind != SINK_FILE || (f->pend_len > AUDIT_PEND_MAX && !f->writing))) {
		r = wait_locked(f, batch, &wake);
		batch = 0;
	}
	pthread_mutex_unlock(&f->mu);
	wake_all(wake);
	*ret_batch = batch;
	return r;
}

int
audit_file_append(struct audit_file *f, const char *body, size_t n, bool defer)
{
	uint64_t batch;

	/* A deferred line rides along with the next batch (or the background
	 * flush). */
	return append_line(f, body, n, !defer, &batch);
}

int
audit_file_append_pending(struct audit_file *f, const char *body, size_t n, uint64_t *ret_batch)
{
	return append_line(f, body, n, false, ret_batch);
}

int
audit_file_wait(struct audit_file *f, uint64_t batch)
{
	struct waiter *wake = NULL;
	int r;

	if (batch == 0)
		return 0;
	pthread_mutex_lock(&f->mu);
	r = wait_locked(f, batch, &wake);
	pthread_mutex_unlock(&f->mu);
	wake_all(wake);
	return r;
}
