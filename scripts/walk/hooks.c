// SPDX-License-Identifier: Apache-2.0
/* Function-entry hooks for a build with -finstrument-functions: records the
 * calls made while one function (WALK_START, its offset in the executable)
 * runs, per thread, and writes them to WALK_OUT at exit. walk.py reads them. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define NO_TRACE __attribute__((no_instrument_function))
#define MAX_RECORDS (1u << 24)

struct record {
	uint32_t thread; /* 0 marks the start of a walk */
	int32_t depth;
	uintptr_t offset;
};

static struct record *records;
static size_t nrecords;
static uintptr_t base, start;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int depth; /* > 0 inside a walk */
static __thread uint32_t thread_id;
static uint32_t threads;

NO_TRACE static void put(uint32_t thread, int32_t d, uintptr_t offset)
{
	pthread_mutex_lock(&lock);
	if (nrecords < MAX_RECORDS)
		records[nrecords++] = (struct record){ thread, d, offset };
	pthread_mutex_unlock(&lock);
}

NO_TRACE static void dump(void)
{
	const char *path = getenv("WALK_OUT");
	FILE *f = path ? fopen(path, "w") : NULL;

	if (!f)
		return;
	for (size_t i = 0; i < nrecords; i++)
		fprintf(f, "%u %d %lx\n", records[i].thread, records[i].depth, (unsigned long)records[i].offset);
	fclose(f);
}

NO_TRACE __attribute__((constructor)) static void walk_init(void)
{
	Dl_info info;
	const char *s = getenv("WALK_START");

	records = calloc(MAX_RECORDS, sizeof(*records));
	if (dladdr((void *)walk_init, &info))
		base = (uintptr_t)info.dli_fbase;
	start = s ? strtoul(s, NULL, 16) : 0;
	atexit(dump);
}

NO_TRACE void __cyg_profile_func_enter(void *fn, void *site)
{
	uintptr_t off = (uintptr_t)fn - base;

	(void)site;
	if (!records)
		return;
	if (!depth && off != start)
		return;
	if (!thread_id)
		thread_id = __atomic_add_fetch(&threads, 1, __ATOMIC_RELAXED);
	depth++;
	put(thread_id, depth, off);
}

NO_TRACE void __cyg_profile_func_exit(void *fn, void *site)
{
	(void)fn;
	(void)site;
	if (depth)
		depth--;
}
