/* cml/client.h — talking to a `cml serve` server over HTTP (libcmlclient,
 * docs/deployment.md): fetch a model's spec, upload the evaluation key,
 * send ciphertexts and get encrypted results back.
 *
 * Why a separate library: the client is the side that holds the secret key
 * and is the only one that needs an HTTP client. libcmlrt stays free of
 * libcurl (a server, or a program that never talks HTTP, does not pull it
 * in); libcmlclient links libcmlrt and libcurl.
 *
 * What travels: the server's spec text, the serialized server key (public:
 * evaluation keys only, docs/serialization.md) and serialized ciphertexts.
 * The client key never leaves the client, and nothing here accepts one.
 *
 * Conventions are those of cml/tfhe.h: every function returns a cml_status,
 * cml_client_last_error() gives a readable message for the calling thread
 * (naming the URL and the server's own message), handles have
 * create/destroy pairs, destroying NULL is a no-op, the creator owns, and
 * nothing exits or aborts. A handle holds one connection (kept alive between
 * requests): use one handle per thread.
 *
 * Status codes of a request:
 *   CML_ERR_IO        the server could not be reached, timed out, or answered
 *                     5xx (503 "busy" only after the retries below)
 *   CML_ERR_ARG       404 (unknown model or key id), 405, 413 (body too large)
 *   CML_ERR_FORMAT    400 (the server refused the body: truncated, corrupted,
 *                     a secret key), or an answer that is not what was asked
 *   CML_ERR_MISMATCH  400 for ciphertexts or a key of other parameters, or
 *                     results of other parameters than the inputs
 * cml_client_http_status() gives the HTTP status of the last request. */
#ifndef CML_CLIENT_H
#define CML_CLIENT_H

#include <cml/tfhe.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A key id: 64 lowercase hex digits (BLAKE2b-256 of the serialized server
 * key) and the terminating NUL. */
#define CML_CLIENT_KEY_ID_SIZE 65

typedef struct cml_client cml_client;

/* A handle for the server at `url` ("http://host:port", a trailing slash
 * allowed); checks that it answers GET /health. */
cml_status cml_client_connect(const char *url, cml_client **out);
void cml_client_close(cml_client *cl);

/* Message describing the last failure of a cml_client_* call on this thread
 * ("" if none). */
const char *cml_client_last_error(void);
/* HTTP status of the handle's last request (0: no answer). */
long cml_client_http_status(const cml_client *cl);
/* A 503 (server busy: its job queue is full) is retried after the server's
 * Retry-After, up to `retries` times (default 20); 0 disables retrying. */
void cml_client_set_retries(cml_client *cl, unsigned retries);
/* Per-request timeout in seconds (default 0: none). */
void cml_client_set_timeout(cml_client *cl, long seconds);

/* Buffers returned by this API are freed with cml_client_free. */
void cml_client_free(void *p);

/* The model's spec (YAML, docs/spec.md), NUL-terminated, as GET
 * /models/MODEL/spec returns it; *len (if not NULL) its length. */
cml_status cml_client_spec(cml_client *cl, const char *model, char **yaml, size_t *len);

/* The key id of a serialized server key, computed locally (the server names
 * keys the same way): id gets CML_CLIENT_KEY_ID_SIZE bytes. */
cml_status cml_client_key_id(const uint8_t *key, size_t len, char id[CML_CLIENT_KEY_ID_SIZE]);

/* POST /models/MODEL/keys: uploads a serialized server key (as
 * cml_server_key_serialize writes it, or `cml keygen`'s server.key) and
 * gives its id. Uploading a key the server holds already is harmless. The
 * id the server answers must equal the local one (CML_ERR_FORMAT if not). */
cml_status cml_client_upload_key(cml_client *cl, const char *model, const uint8_t *key,
                                 size_t len, char id[CML_CLIENT_KEY_ID_SIZE]);
/* The same from a key object (serialized here). */
cml_status cml_client_upload_server_key(cml_client *cl, const char *model,
                                        const cml_server_key *sk,
                                        char id[CML_CLIENT_KEY_ID_SIZE]);

/* POST /models/MODEL/predict?key=ID: serialized input ciphertexts (whole
 * rows, as cml_ct_serialize or `cml encrypt` write them) in, serialized
 * output ciphertexts (as `cml run` writes them) out, in *out (*out_len
 * bytes). */
cml_status cml_client_predict_buffer(cml_client *cl, const char *model, const char *key_id,
                                     const uint8_t *in, size_t in_len, uint8_t **out,
                                     size_t *out_len);
/* The same on ciphertext objects: the result is validated by the runtime's
 * loader and must carry the parameters of `in`. */
cml_status cml_client_predict(cml_client *cl, const char *model, const char *key_id,
                              const cml_ct *in, cml_ct **out);

#ifdef __cplusplus
}
#endif
#endif
