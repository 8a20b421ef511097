/* argon2_floor.c: the login floor of bench/run.sh: argon2id alone, with the
 * parameters of src/password.c (t=2, 19 MiB, one lane, 16-byte salt, 32-byte
 * hash). Hashes once, then times N verifications (what a login does) and
 * prints the median and the fastest in milliseconds.
 *
 *   argon2_floor [N]     (15) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <argon2.h>

#define PW_T_COST 2 /* as src/password.c */
#define PW_M_COST (19 * 1024)
#define PW_PARALLELISM 1
#define PW_SALT_LEN 16
#define PW_HASH_LEN 32

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	const char *pw = "bench password 1";
	unsigned char salt[PW_SALT_LEN] = "0123456789abcdef";
	char encoded[128];
	int n = argc > 1 ? atoi(argv[1]) : 15;
	double *t;

	if (n < 1 || (t = calloc((size_t)n, sizeof(*t))) == NULL)
		return 2;
	if (argon2id_hash_encoded(PW_T_COST, PW_M_COST, PW_PARALLELISM, pw, strlen(pw), salt,
	        sizeof(salt), PW_HASH_LEN, encoded, sizeof(encoded)) != ARGON2_OK)
		return 1;
	for (int i = 0; i < n; i++) {
		double t0 = now_ms();

		if (argon2id_verify(encoded, pw, strlen(pw)) != ARGON2_OK)
			return 1;
		t[i] = now_ms() - t0;
	}
	qsort(t, (size_t)n, sizeof(*t), cmp);
	printf("argon2_verify_p50_ms %.2f\nargon2_verify_min_ms %.2f\n", t[n / 2], t[0]);
	return 0;
}
