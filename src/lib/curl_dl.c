/* curl_dl.c - run-time loading of libcurl (see curl_dl.h). */
#include "lib/curl_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

struct curl_dl curl_dl;

static void *lib;

#define CURL_DL_SYM(field, name)                                                                   \
	do {                                                                                       \
		void *p_ = dlsym(lib, name);                                                       \
		if (!p_)                                                                           \
			goto fail;                                                                 \
		/* POSIX: a data pointer from dlsym converts to a function pointer. */             \
		*(void **)&curl_dl.field = p_;                                                     \
	} while (0)

int
curl_dl_load(void)
{
	if (curl_dl.loaded)
		return 0;
	lib = dlopen(CURL_DL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		return -1;
	CURL_DL_SYM(global_init, "curl_global_init");
	CURL_DL_SYM(global_cleanup, "curl_global_cleanup");
	CURL_DL_SYM(easy_init, "curl_easy_init");
	CURL_DL_SYM(easy_setopt, "curl_easy_setopt");
	CURL_DL_SYM(easy_perform, "curl_easy_perform");
	CURL_DL_SYM(easy_getinfo, "curl_easy_getinfo");
	CURL_DL_SYM(easy_cleanup, "curl_easy_cleanup");
	CURL_DL_SYM(easy_strerror, "curl_easy_strerror");
	CURL_DL_SYM(easy_escape, "curl_easy_escape");
	CURL_DL_SYM(free, "curl_free");
	CURL_DL_SYM(slist_append, "curl_slist_append");
	CURL_DL_SYM(slist_free_all, "curl_slist_free_all");
	curl_dl.loaded = true;
	return 0;
fail:
	dlclose(lib);
	lib = NULL;
	curl_dl = (struct curl_dl){0};
	return -1;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result = -1;

static void
init_run(void)
{
	if (curl_dl_load() != 0)
		return;
	if (curl_dl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return;
	init_result = 0;
}

int
curl_dl_init(void)
{
	(void)pthread_once(&init_once, init_run);
	return init_result;
}
