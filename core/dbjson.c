/*
 * Query rows to JSON, the one way handlers turn results into response
 * objects. Column types decide the JSON type, so an int8 id is a number, a
 * boolean a boolean and a jsonb column its parsed value; SQL NULL is null
 * (never 0 or "").
 */
#include "rr.h"

#include <stdlib.h>

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
        json_t *j = json_loadb(v, (size_t)PQgetlength(res, row, col), JSON_DECODE_ANY, NULL);
        return j ? j : json_null();
    }
    default: {
        json_t *s = json_stringn(v, (size_t)PQgetlength(res, row, col));
        return s ? s : json_null();
    }
    }
}

json_t *rr_row_json(const PGresult *res, int row)
{
    json_t *o = json_object();
    int n = PQnfields(res);
    for (int c = 0; c < n; c++)
        json_object_set_new(o, PQfname(res, c), value_json(res, row, c));
    return o;
}

json_t *rr_rows_json(const PGresult *res)
{
    json_t *a = json_array();
    int n = PQntuples(res);
    for (int r = 0; r < n; r++)
        json_array_append_new(a, rr_row_json(res, r));
    return a;
}
