/* fuzz_json.c: the strict JSON recognizer and parser that guard every
 * request body: no crash, and the recognizer and json-c agree. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[160];
	json_object *o = json_parse_strict((const char *)data, size, why, sizeof(why));

	/* What the recognizer accepts, json-c must parse (null parses to NULL). */
	if (json_check((const char *)data, size, why, sizeof(why)) == 0 && o == NULL &&
	    strstr(why, "null") == NULL)
		abort();
	if (o != NULL)
		json_object_to_json_string(o);
	json_object_put(o);
	return 0;
}
