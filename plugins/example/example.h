/*
 * example plugin — declarations shared by its files: the host table saved by
 * init(), the label rules and the callbacks init() registers.
 *
 * Everything here has external linkage inside the shared object only: the
 * plugin builds with -fvisibility=hidden, so the one exported symbol is
 * rr_plugin_describe().
 */
#ifndef EXAMPLE_H
#define EXAMPLE_H

#include <realreach/plugin.h>

#include <stdbool.h>
#include <stdint.h>

/* The host API, saved by init() (borrowed for the life of the process). */
extern const rr_host_api_t *ex_host;

#define EX_LABEL_MAX 50             /* bytes; the SQL CHECK says the same */
#define EX_LABELS_PER_ACCOUNT 100   /* keeps GET .../labels a bounded list */
#define EX_JOB_RELABEL "example.relabel"

/* 1 to EX_LABEL_MAX characters of a-z, 0-9, '-' and '_'. */
bool ex_label_valid(const char *label);

/* Route handlers (labels.c, relabel.c). */
rr_rc_t ex_account_labels_get(rr_ctx_t *ctx, void *user_data);
rr_rc_t ex_account_label_put(rr_ctx_t *ctx, void *user_data);
rr_rc_t ex_account_label_delete(rr_ctx_t *ctx, void *user_data);
rr_rc_t ex_label_accounts_get(rr_ctx_t *ctx, void *user_data);
rr_rc_t ex_label_rename_post(rr_ctx_t *ctx, void *user_data);

/* Job kind EX_JOB_RELABEL (relabel.c). */
rr_rc_t ex_relabel_job(rr_ctx_t *ctx, json_t *payload, json_t **result, void *user_data);

#endif /* EXAMPLE_H */
