/* password.c: passwords as argon2id hashes with OWASP's parameters (19 MiB,
 * two passes, one lane), encoded with those parameters so they can be
 * raised later without breaking existing hashes. */
#include <string.h>

#include <argon2.h>

#include "mw.h"

#define PW_T_COST 2
#define PW_M_COST (19 * 1024) /* KiB */
#define PW_PARALLELISM 1
#define PW_SALT_LEN 16
#define PW_HASH_LEN 32

/* A hash of a random password, verified against for unknown accounts so
 * they take as long as a wrong password. */
static char dummy[128];

int
password_hash(const char *pw, char *out, size_t outlen)
{
	unsigned char salt[PW_SALT_LEN];

	if (tg_random(salt, sizeof(salt)) < 0)
		return -1;
	if (argon2id_hash_encoded(PW_T_COST, PW_M_COST, PW_PARALLELISM, pw, strlen(pw), salt,
	        sizeof(salt), PW_HASH_LEN, out, outlen) != ARGON2_OK)
		return -1;
	return 0;
}

int
password_init(void)
{
	unsigned char raw[24];
	char pw[49];

	if (tg_random(raw, sizeof(raw)) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(raw); i++) {
		pw[2 * i] = "0123456789abcdef"[raw[i] >> 4];
		pw[2 * i + 1] = "0123456789abcdef"[raw[i] & 15];
	}
	pw[48] = '\0';
	return password_hash(pw, dummy, sizeof(dummy));
}

int
password_verify(const char *encoded, const char *pw)
{
	if (encoded == NULL) {
		argon2id_verify(dummy, pw, strlen(pw));
		return 0;
	}
	return argon2id_verify(encoded, pw, strlen(pw)) == ARGON2_OK;
}
