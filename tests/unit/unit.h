/* unit.h: the smallest test harness: CHECK records a failure, TEST runs a
 * function, unit_done prints "N passed, N failed" for tests/run.sh. */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>

static int unit_failures, unit_passed, unit_failed;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			printf("#   %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);        \
			unit_failures++;                                                           \
		}                                                                                  \
	} while (0)

#define TEST(fn)                                                                                   \
	do {                                                                                       \
		int before = unit_failures;                                                        \
		fn();                                                                              \
		if (unit_failures == before) {                                                     \
			unit_passed++;                                                             \
			printf("ok - %s\n", #fn);                                                  \
		} else {                                                                           \
			unit_failed++;                                                             \
			printf("not ok - %s\n", #fn);                                              \
		}                                                                                  \
	} while (0)

static inline int
unit_done(void)
{
	printf("%d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}

#endif
