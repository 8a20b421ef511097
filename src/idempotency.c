/* idempotency.c: the Idempotency-Key header (IETF httpapi idempotency-key
 * draft). A key is claimed, per organization, in its own short transaction
 * before the work; the work stores its answer in its own transaction, so a
 * stored batch always has its answer; a retry with the same key and body
 * within 24 hours gets that answer again and nothing runs twice. Only
 * successful answers are kept: an error stored nothing, so its key is freed
 * and a retry runs anew. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "mw.h"

#define IDEM_TTL 86400 /* seconds a key and its answer are kept */
#define IDEM_ABANDONED 60 /* seconds after which an unfinished claim is taken over */

/* Reads the header value v into out: an RFC 8941 sf-string ("...", with \"
 * and \\ escapes) as the draft writes it, or the bare text most clients
 * send. 0 when it holds 1..IDEM_KEY_MAX printable ASCII characters, else -1. */
static int
idem_key_parse(const char *v, char *out)
{
	size_t n = 0;
	int quoted = *v == '"', closed = 0;

	if (quoted)
		v++;
	for (; *v != '\0' && !closed; v++) {
		if (*v < 0x20 || *v > 0x7e || n == IDEM_KEY_MAX)
			return -1;
		if (quoted && *v == '"') {
			closed = 1;
			continue;
		}
		if (quoted && *v == '\\' && *++v != '"' && *v != '\\')
			return -1;
		out[n++] = *v;
	}
	out[n] = '\0';
	if (quoted != closed || *v != '\0')
		return -1;
	return n > 0 ? 0 : -1;
}

/* The hex SHA-256 of what identifies the request: method, path, query (when
 * there is one: ?partial=true asks for another answer) and body (as
 * decoded: the same records gzip-compressed or not are the same request);
 * -1 when OpenSSL fails. */
static int
idem_hash(const struct req *r, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(c, r->method_str, strlen(r->method_str)) == 1 &&
	    EVP_DigestUpdate(c, "\n", 1) == 1 &&
	    EVP_DigestUpdate(c, r->path, strlen(r->path)) == 1 &&
	    EVP_DigestUpdate(c, "\n", 1) == 1 &&
	    (r->query == NULL || *r->query == '\0' ||
	        (EVP_DigestUpdate(c, "?", 1) == 1 &&
	            EVP_DigestUpdate(c, r->query, strlen(r->query)) == 1 &&
	            EVP_DigestUpdate(c, "\n", 1) == 1)) &&
	    (r->body == NULL || EVP_DigestUpdate(c, r->body, r->body_len) == 1) &&
	    EVP_DigestFinal_ex(c, md, &mdlen) == 1 && mdlen == 32;

	EVP_MD_CTX_free(c);
	if (!ok)
		return -1;
	for (unsigned k = 0; k < mdlen; k++)
		snprintf(out + 2 * k, 3, "%02x", md[k]);
	return 0;
}

/* Answers the stored answer again: the first status and body, byte for byte
 * (the bodies kept hold only strings, integers and null, which json-c writes
 * back exactly), with a fresh X-Request-Id and Idempotent-Replayed. */
static void
idem_replay(struct req *r, int status, const char *body)
{
	json_object *o = json_tokener_parse(body);

	if (o == NULL) {
		log_msg(r->request_id, "idempotency: stored answer unreadable");
		reply_error(r, ERR_INTERNAL, NULL, NULL);
		return;
	}
	req_header_add(r, "Idempotent-Replayed", "true");
	reply_json(r, status, o);
}

/* The claim of i->key, in its own transaction: refuses (answering) a key
 * reused with another body, one still in progress, or one answered
 * already (that answer again). */
static int
idem_claim(struct req *r, void *arg)
{
	struct idem *i = arg;
	int64_t now = tg_now(), created;
	int rc = db_query(r->db, STMT_IDEM_GET, "tt", r->who.org_id, i->key);

	if (rc == DB_ROW && (created = db_int(r->db, STMT_IDEM_GET, 3)) > now - IDEM_TTL) {
		int same = strcmp(db_text(r->db, STMT_IDEM_GET, 0), i->hash) == 0;
		int done = !db_isnull(r->db, STMT_IDEM_GET, 1);

		if (!same) {
			db_end(r->db, STMT_IDEM_GET);
			reply_error(r, ERR_IDEMPOTENCY_KEY_REUSED, NULL, NULL);
			return -1;
		}
		if (!done && created > now - IDEM_ABANDONED) {
			db_end(r->db, STMT_IDEM_GET);
			reply_error(r, ERR_CONFLICT_IDEMPOTENCY_IN_PROGRESS, NULL, NULL);
			return -1;
		}
		if (done) {
			int status = (int)db_int(r->db, STMT_IDEM_GET, 1);
			char *answer = strdup(db_text(r->db, STMT_IDEM_GET, 2));

			db_end(r->db, STMT_IDEM_GET);
			if (answer == NULL)
				reply_error(r, ERR_UNAVAILABLE, NULL, NULL);
			else
				idem_replay(r, status, answer);
			free(answer);
			return -1;
		}
		/* Same body, unfinished for a minute: the first one died. */
	}
	db_end(r->db, STMT_IDEM_GET);
	if (rc != DB_ROW && rc != DB_DONE)
		return rc;
	if (tg_id_new("idc", i->claim, sizeof(i->claim)) < 0) {
		reply_error(r, ERR_UNAVAILABLE, NULL, NULL);
		return -1;
	}
	rc = db_run(r->db, STMT_IDEM_CLAIM, "tttit", r->who.org_id, i->key, i->hash, now, i->claim);
	if (rc == DB_OK)
		rc = db_run(r->db, STMT_IDEM_PRUNE, "i", now - IDEM_TTL);
	return rc;
}

int
idem_claim_or_reply(struct req *r, struct idem *i)
{
	memset(i, 0, sizeof(*i));
	if (r->idempotency_key == NULL)
		return 0;
	if (idem_key_parse(r->idempotency_key, i->key) < 0) {
		json_object *d = json_object_new_object();

		json_object_object_add(d, "field", json_object_new_string("Idempotency-Key"));
		reply_error(r, ERR_INVALID_BODY_IDEMPOTENCY_KEY, NULL, d);
		return -1;
	}
	if (idem_hash(r, i->hash) < 0) {
		reply_error(r, ERR_INTERNAL, NULL, NULL);
		return -1;
	}
	if (db_tx_or_reply(r, idem_claim, i, "idempotency: claim") != DB_OK)
		return -1;
	i->held = 1;
	return 0;
}

int
idem_store(struct req *r, const struct idem *i, int status, const char *body)
{
	int rc;

	if (!i->held)
		return DB_OK;
	rc = db_run(r->db, STMT_IDEM_FINISH, "tttit", r->who.org_id, i->key, i->claim,
	    (int64_t)status, body);
	if (rc == DB_OK && db_changes(r->db) == 0) {
		log_msg(
		    r->request_id, "idempotency: the key was taken over by a retry; rolled back");
		return IDEM_LOST;
	}
	return rc;
}

void
idem_release(struct req *r, const struct idem *i)
{
	int rc;

	if (!i->held)
		return;
	rc = db_run(r->db, STMT_IDEM_RELEASE, "ttt", r->who.org_id, i->key, i->claim);
	if (rc != DB_OK)
		log_msg(r->request_id,
		    "idempotency: release: database error %d (the key frees "
		    "itself after %d s)",
		    rc, IDEM_ABANDONED);
}
