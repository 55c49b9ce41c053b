/*
 * tools/audience/train — trains the audience plugin's model and writes its
 * parameters as C (plugins/audience/model_params.c), reproducibly: the same
 * files give the same bytes, and the model version ends in a hash of them.
 *
 *   train --genuine E13.train.csv --fake INT.train.csv --out model_params.c
 *
 * `make train-audience` runs it on the cresci-2015 training files.
 */
#include "data.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bumped by hand when the recipe (features, trainer, parameters) changes. */
#define MODEL_SERIES "gbt-2026.11"

typedef struct strbuf {
    char *s;
    size_t len, cap;
} strbuf_t;

static void sb_printf(strbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(strbuf_t *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            abort();
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 65536;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *g = realloc(b->s, cap);
        if (!g)
            abort();
        b->s = g;
        b->cap = cap;
    }
}

/* A float literal that reads back as the same float ("0" -> "0.0f"). */
static const char *flit(char buf[32], double v)
{
    snprintf(buf, 32, "%.9g", v);
    if (!strpbrk(buf, ".en"))
        strcat(buf, ".0");
    strcat(buf, "f");
    return buf;
}

/* Tree i of the ensemble as a complete depth-3 tree at slot k of ft. */
static void flatten(const aud_node_t *nodes, int32_t i, int k, aud_flat_tree_t *ft)
{
    const aud_node_t *n = &nodes[i];
    if (k >= 2 * AUD_FLAT_INNER + 1) /* deeper than depth 3: cannot happen */
        return;
    if (k >= AUD_FLAT_INNER) {
        ft->value[k] = n->value;
        return;
    }
    ft->value[k] = n->value;
    if (n->feature < 0) { /* a leaf above the bottom: always left */
        ft->feature[k] = 0;
        ft->threshold[k] = INFINITY;
        flatten(nodes, i, 2 * k + 1, ft);
        flatten(nodes, i, 2 * k + 2, ft);
        return;
    }
    ft->feature[k] = (int16_t)n->feature;
    ft->threshold[k] = n->threshold;
    flatten(nodes, n->left, 2 * k + 1, ft);
    flatten(nodes, n->right, 2 * k + 2, ft);
}

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

int main(int argc, char **argv)
{
    aud_set_t set = {0};
    int next = 1;
    if (aud_set_load_args(&set, argc, argv, &next) != 0)
        return 1;
    const char *out_path = NULL;
    if (next + 1 < argc && !strcmp(argv[next], "--out"))
        out_path = argv[next + 1];
    if (!out_path) {
        fprintf(stderr, "usage: %s --genuine FILE... --fake FILE... --out model_params.c\n",
                argv[0]);
        return 2;
    }

    float *X = malloc(set.n * AUD_NF * sizeof *X);
    int *y = malloc(set.n * sizeof *y);
    size_t *idx = malloc(set.n * sizeof *idx);
    if (!X || !y || !idx)
        return 1;
    long fakes = 0;
    for (size_t i = 0; i < set.n; i++) {
        aud_features(&set.s[i].p, &X[i * AUD_NF]);
        y[i] = set.s[i].label;
        idx[i] = i;
        fakes += y[i];
    }
    gbt_model_t g;
    const gbt_params_t *p = &gbt_default_params;
    if (gbt_train(X, y, idx, set.n, p, &g) != 0)
        return 1;

    /* the parameters as C; the version hashes exactly this text */
    strbuf_t body = {0};
    sb_printf(&body, "static const aud_node_t nodes[%d] = {\n", g.nnodes);
    for (int i = 0; i < g.nnodes; i++) {
        const aud_node_t *nd = &g.nodes[i];
        char a[32], b[32], c[32];
        if (nd->feature < 0)
            sb_printf(&body, "    {-1, 0, 0, 0, %s, 0},\n", flit(a, (double)nd->value));
        else
            sb_printf(&body, "    {%d, %s, %d, %d, %s, %s},\n", nd->feature,
                      flit(a, (double)nd->threshold), nd->left, nd->right,
                      flit(b, (double)nd->value), flit(c, (double)nd->left_share));
    }
    sb_printf(&body, "};\n\nstatic const int32_t roots[%d] = {", g.m.ntrees);
    for (int t = 0; t < g.m.ntrees; t++)
        sb_printf(&body, "%s%s%d", t ? "," : "", t % 16 ? " " : "\n    ", g.roots[t]);
    sb_printf(&body, "\n};\n\n/* share of the total split gain per feature */\n"
                     "static const float importance[AUD_NF] = {\n");
    for (int f = 0; f < AUD_NF; f++) {
        char a[32];
        sb_printf(&body, "    %s, /* %d %s */\n", flit(a, (double)g.importance[f]), f,
                  aud_feature_names[f]);
    }
    sb_printf(&body, "};\n\n");
    if (p->depth <= AUD_FLAT_DEPTH) {
        sb_printf(&body,
                  "/* the same trees, complete to depth %d (see aud_flat_tree_t) */\n"
                  "static const aud_flat_tree_t flat[%d] = {\n",
                  AUD_FLAT_DEPTH, g.m.ntrees);
        for (int t = 0; t < g.m.ntrees; t++) {
            aud_flat_tree_t ft;
            memset(&ft, 0, sizeof ft);
            flatten(g.nodes, g.roots[t], 0, &ft);
            sb_printf(&body, "    {{");
            for (int k = 0; k < AUD_FLAT_INNER; k++)
                sb_printf(&body, "%s%d", k ? ", " : "", ft.feature[k]);
            sb_printf(&body, "},\n     {");
            for (int k = 0; k < AUD_FLAT_INNER; k++) {
                char a[32];
                sb_printf(&body, "%s%s", k ? ", " : "",
                          isinf(ft.threshold[k]) ? "INFINITY" : flit(a, (double)ft.threshold[k]));
            }
            sb_printf(&body, "},\n     {");
            for (int k = 0; k < 2 * AUD_FLAT_INNER + 1; k++) {
                char a[32];
                sb_printf(&body, "%s%s", k ? ", " : "", flit(a, (double)ft.value[k]));
            }
            sb_printf(&body, "}},\n");
        }
        sb_printf(&body, "};\n\n");
    }
    sb_printf(&body, "#define MODEL_BASE_MARGIN %.17g\n", g.m.base_margin);
    uint64_t h = fnv1a(body.s, body.len);
    char version[64];
    snprintf(version, sizeof version, "%s-%08" PRIx64, MODEL_SERIES, h >> 32);

    FILE *f = fopen(out_path, "w");
    if (!f) {
        perror(out_path);
        return 1;
    }
    fprintf(f,
            "/*\n"
            " * audience plugin — the trained model's parameters. GENERATED by\n"
            " * tools/audience/train (`make train-audience`); do not edit.\n"
            " *\n"
            " * Model %s: gradient-boosted trees, %d trees of depth <= %d,\n"
            " * learning rate %g, L2 %g, >= %d rows per leaf, row/feature subsample\n"
            " * %g/%g, seed %" PRIu64 ", monotone constraints per aud_feature_monotone.\n"
            " * Trained on %zu labelled profiles (%ld fake, %zu genuine).\n"
            " */\n"
            "#include \"scoring.h\"\n\n#include <math.h>\n\n/* clang-format off */\n",
            version, p->ntrees, p->depth, p->eta, p->lambda, p->min_leaf, p->subsample,
            p->colsample, p->seed, set.n, fakes, set.n - (size_t)fakes);
    fprintf(f, "%s", body.s);
    fprintf(f,
            "\nconst aud_model_t aud_model = {\n"
            "    .version = \"%s\",\n"
            "    .base_margin = MODEL_BASE_MARGIN,\n"
            "    .ntrees = %d,\n"
            "    .roots = roots,\n"
            "    .nodes = nodes,\n"
            "    .nnodes = %d,\n"
            "    .importance = importance,\n"
            "    .flat = %s,\n"
            "};\n"
            "/* clang-format on */\n",
            version, g.m.ntrees, g.nnodes, p->depth <= AUD_FLAT_DEPTH ? "flat" : "NULL");
    if (fclose(f) != 0) {
        perror(out_path);
        return 1;
    }
    printf("model %s: %d trees, %d nodes, trained on %zu profiles (%ld fake) -> %s\n", version,
           g.m.ntrees, g.nnodes, set.n, fakes, out_path);
    printf("feature importance (share of split gain):\n");
    for (int i = 0; i < AUD_NF; i++)
        printf("  %-32s %6.3f  monotone %+d\n", aud_feature_names[i], (double)g.importance[i],
               aud_feature_monotone[i]);
    free(body.s);
    gbt_free(&g);
    free(X);
    free(y);
    free(idx);
    aud_set_free(&set);
    return 0;
}
