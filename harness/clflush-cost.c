// SPDX-License-Identifier: GPL-2.0-only
/*
 * What KVM's write-back of a flagged mapping costs on this CPU: the time to
 * write back and invalidate 4 KiB, 2 MiB and 1 GiB, one cache line at a time
 * with CLFLUSHOPT (CLFLUSH without it) between two MFENCEs, as the kernel's
 * clflush_cache_range() does.  Each size is measured with its lines dirty
 * (just written, as after the host zeroed or the guest wrote a page) and
 * clean (already written back).  Runs in userspace: both instructions are
 * unprivileged and act on physical lines, whichever virtual address names
 * them.
 *
 *   gcc -O2 -o clflush-cost harness/clflush-cost.c && ./clflush-cost
 */
#include <cpuid.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define LINE 64
#define REPEAT 5

static int have_clflushopt;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void writeback(char *p, size_t len)
{
	char *end = p + len;

	asm volatile("mfence" ::: "memory");
	if (have_clflushopt)
		for (; p < end; p += LINE)
			asm volatile(".byte 0x66; clflush %0" : "+m"(*p));
	else
		for (; p < end; p += LINE)
			asm volatile("clflush %0" : "+m"(*p));
	asm volatile("mfence" ::: "memory");
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of REPEAT runs, in seconds. */
static double measure(char *buf, size_t len, int dirty)
{
	double t[REPEAT];
	int i;

	for (i = 0; i < REPEAT; i++) {
		memset(buf, i + 1, len);
		if (!dirty)
			writeback(buf, len);
		t[i] = now();
		writeback(buf, len);
		t[i] = now() - t[i];
	}
	qsort(t, REPEAT, sizeof(t[0]), cmp);
	return t[REPEAT / 2];
}

int main(void)
{
	static const struct { const char *name; size_t len; } sizes[] = {
		{ "4 KiB", 4096 }, { "2 MiB", 2 << 20 }, { "1 GiB", 1 << 30 },
	};
	unsigned int a, b, c, d;
	char *buf;
	size_t i;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(d & (1 << 19))) {
		printf("SKIP: no CLFLUSH on this CPU\n");
		return 0;
	}
	have_clflushopt = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1 << 23));

	buf = mmap(NULL, 1 << 30, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (buf == MAP_FAILED) {
		perror("mmap 1 GiB");
		return 1;
	}
	printf("write-back with %s, median of %d runs\n",
	       have_clflushopt ? "CLFLUSHOPT" : "CLFLUSH", REPEAT);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		double dirty = measure(buf, sizes[i].len, 1);
		double clean = measure(buf, sizes[i].len, 0);
		double gib = (double)sizes[i].len / (1 << 30);

		printf("%-6s  dirty %10.1f us (%7.1f ms/GiB)  clean %10.1f us (%7.1f ms/GiB)\n",
		       sizes[i].name, dirty * 1e6, dirty * 1e3 / gib,
		       clean * 1e6, clean * 1e3 / gib);
	}
	return 0;
}
