/*
 * Query rows to JSON, the one way handlers turn results into response
 * objects. Column types decide the JSON type, so an int8 id is a number, a
 * boolean a boolean and a jsonb column its parsed value; SQL NULL is null
 * (never 0 or "").
 */
#include "rr.h"

#include <stdlib.h>
#include <string.h>

#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_JSON 114
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700
#define OID_JSONB 3802

static json_t *value_json(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return json_null();
    const char *v = PQgetvalue(res, row, col);
    switch (PQftype(res, col)) {
    case OID_BOOL:
        return json_boolean(v[0] == 't');
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
        return json_integer(strtoll(v, NULL, 10));
    case OID_FLOAT4:
    case OID_FLOAT8:
    case OID_NUMERIC:
        return json_real(strtod(v, NULL));
    case OID_JSON:
    case OID_JSONB: {
        json_error_t err;
        memset(&err, 0, sizeof err);
        json_t *j = json_loadb(v, (size_t)PQgetlength(res, row, col), JSON_DECODE_ANY, &err);
        if (j)
            return j;
        /* PostgreSQL only outputs valid JSON, so a failure is either a value
         * beyond jansson's limits (nesting, number range): null; or memory
         * running out, which jansson may report as anything: NULL */
        enum json_error_code code = json_error_code(&err);
        if (err.text[0] &&
            (code == json_error_numeric_overflow || code == json_error_stack_overflow))
            return json_null();
        return NULL;
    }
    default: {
        /* NULL when memory ran out (the database is UTF-8, so the text is
         * valid): the caller fails the whole answer */
        return json_stringn(v, (size_t)PQgetlength(res, row, col));
    }
    }
}

json_t *rr_row_json(const PGresult *res, int row)
{
    json_t *o = json_object();
    int n = PQnfields(res);
    for (int c = 0; o && c < n; c++) {
        if (json_object_set_new(o, PQfname(res, c), value_json(res, row, c))) {
            json_decref(o); /* out of memory: no answer rather than half a row */
            o = NULL;
        }
    }
    return o;
}

json_t *rr_rows_json(const PGresult *res)
{
    json_t *a = json_array();
    int n = PQntuples(res);
    for (int r = 0; a && r < n; r++) {
        if (json_array_append_new(a, rr_row_json(res, r))) {
            json_decref(a);
            a = NULL;
        }
    }
    return a;
}
