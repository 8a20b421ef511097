/* fuzz_schema.c: libFuzzer harness for ingest checks: json_parse_strict (the
 * path every request body takes), then schema_check_record against a fixed
 * schema, checking that a record that passes is stored as strict JSON that
 * passes again; any broken promise aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char schema_text[] = "{\"columns\": ["
                                  "{\"name\": \"id\", \"type\": \"integer\"},"
                                  "{\"name\": \"price\", \"type\": \"number\"},"
                                  "{\"name\": \"ok\", \"type\": \"boolean\"},"
                                  "{\"name\": \"name\", \"type\": \"text\"},"
                                  "{\"name\": \"first name\", \"type\": \"text\"}]}";

/* Checks one record; a record that passes is stored and must pass again. */
static void
fuzz_record(const struct schema *s, json_object *rec, int index, json_object *problems)
{
	size_t before = json_object_array_length(problems);
	int n = schema_check_record(s, rec, index, problems, 100);
	json_object *stored, *back;
	const char *text;
	char why[160];

	if (n < 0 || json_object_array_length(problems) > 100)
		abort();
	if (n > 0) {
		if (before < 100 && json_object_array_length(problems) == before)
			abort();
		return;
	}
	if (json_object_array_length(problems) != before)
		abort();
	if ((stored = schema_record_json(s, rec)) == NULL)
		abort();
	text = json_object_to_json_string_ext(stored, JSON_C_TO_STRING_PLAIN);
	if ((back = json_parse_strict(text, strlen(text), why, sizeof(why))) == NULL ||
	    json_object_object_length(back) != (int)s->ncols ||
	    schema_check_record(s, back, index, problems, 100) != 0)
		abort();
	json_object_put(back);
	json_object_put(stored);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct schema s;
	json_object *o, *problems;
	char why[160];

	if (s.ncols == 0) {
		json_object *def = json_tokener_parse(schema_text);

		if (schema_from_json(def, &s) != 0)
			abort();
		json_object_put(def);
	}
	if ((o = json_parse_strict((const char *)data, size, why, sizeof(why))) == NULL)
		return 0;
	problems = json_object_new_array();
	if (json_object_is_type(o, json_type_array))
		for (size_t i = 0; i < json_object_array_length(o) && i < 500; i++)
			fuzz_record(&s, json_object_array_get_idx(o, i), (int)i, problems);
	else
		fuzz_record(&s, o, 0, problems);
	json_object_put(problems);
	json_object_put(o);
	return 0;
}
