/* fuzz_webhook_url.c: the address check of webhook URLs (ssrf.c), with a
 * resolver that answers from the input itself and never looks anything up:
 * no crash, a URL refused when a webhook is made is refused at every
 * attempt, and an attempt never picks a refused address unless its host is
 * allowed. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ssrf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *answer; /* the resolver's addresses: 17 bytes each (family, address) */
static size_t answer_len;

static int
resolve_from_input(const char *host, struct sockaddr_storage *out, size_t max, size_t *n)
{
	(void)host;
	*n = 0;
	for (size_t i = 0; i + 17 <= answer_len && *n < max; i += 17) {
		struct sockaddr_in *v4 = (struct sockaddr_in *)&out[*n];
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out[*n];

		memset(&out[*n], 0, sizeof(out[0]));
		if (answer[i] & 1) {
			v6->sin6_family = AF_INET6;
			memcpy(&v6->sin6_addr, answer + i + 1, 16);
		} else {
			v4->sin_family = AF_INET;
			memcpy(&v4->sin_addr, answer + i + 1, 4);
		}
		(*n)++;
	}
	return *n > 0 ? 0 : EAI_NONAME;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t ulen = nl != NULL ? (size_t)(nl - data) : size;
	char *url = malloc(ulen + 1), err[256];
	struct ssrf_target t;
	int checked, resolved;

	if (url == NULL)
		return 0;
	memcpy(url, data, ulen);
	url[ulen] = '\0';
	answer = nl != NULL ? nl + 1 : NULL;
	answer_len = nl != NULL ? size - ulen - 1 : 0;
	checked = ssrf_url_check(url, "", err, sizeof(err));
	resolved = ssrf_target_resolve(url, "", resolve_from_input, &t, err, sizeof(err));
	if (checked < 0 && resolved == 0)
		abort();
	if (resolved == 0 && ssrf_addr_blocked((struct sockaddr *)&t.sa))
		abort();
	/* With the host allowed, only the form can refuse it. */
	ssrf_target_resolve(
	    url, "127.0.0.1,localhost,[::1]", resolve_from_input, &t, err, sizeof(err));
	free(url);
	return 0;
}
