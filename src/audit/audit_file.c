/* audit_file.c - the file audit sink and its hash chain (docs/internals/audit.md).
 *
 * Every line is  prefix + {"seq":N,"prev_hash":"<hex>",<entry fields>}  where seq
 * counts the lines of the file from 1 and prev_hash is the SHA-256 of the previous
 * line's bytes (prefix included, newline excluded), or of "" for the first line.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/util.h"
#include "lib/secmem.h"

enum audit_sink { SINK_FILE, SINK_STDOUT, SINK_DISCARD };

/* An appender waiting for the batch that carries its line (on its stack). */
struct waiter {
	struct waiter *next;
	uint64_t batch; /* number of the batch that carries the line */
	sem_t sem;
	int result; /* set before sem is posted, unless lead */
	bool lead;  /* woken to write the next batch itself */
};

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
	uint64_t seq;        /* seq of the last line written */
	char prev[65];       /* hex sha256 of the last line written */
	EVP_MD_CTX *md;      /* reused for the chain hash */
	char *pend;          /* lines hashed into the chain, not yet written */
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

static EVP_MD *sha256_fetched;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
sha256_fetch(void)
{
	sha256_fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* The SHA-256 implementation, fetched once (PERFORMANCE.md pitfall 3). */
static const EVP_MD *
sha256_md(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256_fetched ? sha256_fetched : EVP_sha256();
}

static void
empty_hash(char out[65])
{
	util_sha256_hex("", 0, out);
}

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
		wait_ms = f->pend_len || f->dirty ? AUDIT_FLUSH_MS : AUDIT_SYNC_MS;
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
               struct audit_file **ret)
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
	f->md = EVP_MD_CTX_new();
	if (!f->path || !f->prefix || !f->md)
		goto fail;
	f->prefix_len = strlen(f->prefix);
	empty_hash(f->prev);
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
	EVP_MD_CTX_free(f->md);
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
	if (f->fd >= 0 && f->pend_len) {
		struct waiter *wake = NULL;
		(void)flush_locked(f, &wake);
		wake_all(wake); /* none: nobody appends during free */
	}
	if (f->fd >= 0 && f->regular && f->dirty)
		(void)fdatasync(f->fd);
	file_close_locked(f);
	pthread_mutex_unlock(&f->mu);
	secmem_free(f->pend, f->pend_cap);
	secmem_free(f->wbuf, f->wbuf_cap);
	pthread_cond_destroy(&f->idle);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	EVP_MD_CTX_free(f->md);
	free(f->prefix);
	free(f->path);
	free(f);
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

/* Reads the chain state from the tail of a regular file. Called with f->mu held. */
static int
file_resync(struct audit_file *f, char *err, size_t errlen)
{
	struct stat st;
	off_t size, start;
	char *line = NULL, last;
	size_t len;
	json_t *j = NULL;
	const char *brace;
	int r;

	if (fstat(f->fd, &st) < 0) {
		snprintf(err, errlen, "stat: %s", strerror(errno));
		return CF_EIO;
	}
	f->regular = S_ISREG(st.st_mode);
	f->seq = 0;
	empty_hash(f->prev);
	if (!f->regular)
		return 0;
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
	if (size == 0)
		return 0;
	r = find_line_start(f->fd, size - 1, &start);
	if (r < 0) {
		snprintf(err, errlen, "cannot read the last line");
		return r;
	}
	len = (size_t)(size - 1 - start);
	if (len > AUDIT_LINE_MAX) {
		snprintf(err, errlen, "last line longer than %u bytes", AUDIT_LINE_MAX);
		return CF_EIO;
	}
	line = malloc(len + 1);
	if (!line)
		return CF_ENOMEM;
	if (pread(f->fd, line, len, start) != (ssize_t)len) {
		snprintf(err, errlen, "cannot read the last line");
		r = CF_EIO;
		goto out;
	}
	line[len] = '\0';
	util_sha256_hex(line, len, f->prev);
	brace = memchr(line, '{', len);
	if (brace)
		j = json_loadb(brace, len - (size_t)(brace - line), 0, NULL);
	if (j && json_is_integer(json_object_get(j, "seq")) &&
	    json_integer_value(json_object_get(j, "seq")) > 0) {
		f->seq = (uint64_t)json_integer_value(json_object_get(j, "seq"));
	} else {
		/* Not a chained line (an older log?): number on from the line count, so
		 * that new lines verify among themselves. */
		r = count_lines(f->fd, size, &f->seq);
		if (r < 0) {
			snprintf(err, errlen, "cannot count lines");
			goto out;
		}
	}
	r = 0;
out:
	json_decref(j);
	secmem_free(line, len);
	return r;
}

static int
file_open_locked(struct audit_file *f, char *err, size_t errlen)
{
	int fd, r;

	file_close_locked(f);
	if (f->kind == SINK_DISCARD)
		return 0;
	if (f->kind == SINK_STDOUT) {
		f->fd = STDOUT_FILENO;
		f->regular = false;
		return 0;
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
	r = file_resync(f, err, errlen);
	if (r < 0)
		goto fail;
	return 0;
fail:
	close(fd);
	f->fd = -1;
	return r;
}

int
audit_file_open(struct audit_file *f, char *err, size_t errlen)
{
	int r;

	pthread_mutex_lock(&f->mu);
	r = file_open_locked(f, err, errlen);
	pthread_mutex_unlock(&f->mu);
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
 * file if needed, writes the seq/prev_hash header, hashes the line. Called with
 * f->mu held; *ret_batch is the number of the batch that will carry the line. */
static int
append_locked(struct audit_file *f, const char *body, size_t n, uint64_t *ret_batch)
{
	char hdr[128], err[256], next[65];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct iovec iov[4];
	size_t total = 0;
	int hl, cnt = 0;

	if (f->fd < 0 && file_open_locked(f, err, sizeof(err)) < 0)
		return CF_EIO;
	hl = format_header(hdr, f->seq + 1, f->prev, n > 2);
	if (f->prefix_len)
		iov[cnt++] = (struct iovec){f->prefix, f->prefix_len};
	iov[cnt++] = (struct iovec){hdr, (size_t)hl};
	iov[cnt++] = (struct iovec){(void *)(body + 1), n - 1}; /* drops body's '{' */
	if (EVP_DigestInit_ex(f->md, sha256_md(), NULL) != 1)
		return CF_EINTERNAL;
	for (int i = 0; i < cnt; i++) {
		total += iov[i].iov_len;
		if (EVP_DigestUpdate(f->md, iov[i].iov_base, iov[i].iov_len) != 1)
			return CF_EINTERNAL;
	}
	if (EVP_DigestFinal_ex(f->md, md, &mdlen) != 1 || mdlen != 32)
		return CF_EINTERNAL;
	util_hex(md, mdlen, next);
	iov[cnt++] = (struct iovec){"\n", 1};
	total++;
	if (!pend_locked(f, iov, cnt, total))
		return CF_ENOMEM;
	f->seq++;
	memcpy(f->prev, next, sizeof(next));
	*ret_batch = f->batches + 1;
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
	r = append_locked(f, body, n, &batch);
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
