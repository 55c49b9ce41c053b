/*
 * tools/audience — a small gradient-boosted tree trainer (logistic loss,
 * second-order leaf weights as in XGBoost, exact greedy splits over
 * presorted features, level by level) with monotone constraints, row and
 * feature subsampling from a seeded generator: the same data and parameters
 * always give the same model, bit for bit.
 *
 * Monotone constraints (aud_feature_monotone) follow XGBoost: a split on a
 * constrained feature is admitted only when its children's weights are in
 * the constrained order, and the midpoint of the two bounds every leaf
 * below each side, so the whole ensemble is monotone in that feature.
 */
#include "data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const gbt_params_t gbt_default_params = {
    .ntrees = 120,
    .depth = 3,
    .min_leaf = 10,
    .eta = 0.1,
    .lambda = 1.0,
    .min_child_h = 1.0,
    .gamma = 0.0,
    .subsample = 0.8,
    .colsample = 0.8,
    .seed = 20150214,
};

/* splitmix64: small, seedable, the same on every platform */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

/* presorting: indices by (value, index), unknown values last */
static const float *sort_X;
static int sort_f;
static int cmp_rows(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    float x = sort_X[i * AUD_NF + sort_f], y = sort_X[j * AUD_NF + sort_f];
    if (isnan(x) || isnan(y)) {
        if (isnan(x) && isnan(y))
            return i < j ? -1 : i > j;
        return isnan(x) ? 1 : -1;
    }
    if (x != y)
        return x < y ? -1 : 1;
    return i < j ? -1 : i > j;
}

/* a node being grown */
typedef struct tnode {
    int32_t out; /* index in the model's node array */
    double G, H;
    long count;
    double lo, hi; /* bounds of leaf weights below (monotone constraints) */
    /* best split found */
    int feature;
    float threshold;
    double gain, wl, wr, GL, HL;
    long cl;
} tnode_t;

static double clip(double w, double lo, double hi)
{
    return w < lo ? lo : w > hi ? hi : w;
}
static double leaf_weight(double G, double H, double lambda, double lo, double hi)
{
    return clip(-G / (H + lambda), lo, hi);
}
/* twice the loss reduction of weight w against G, H */
static double loss_gain(double G, double H, double lambda, double w)
{
    return -(2.0 * G * w + (H + lambda) * w * w);
}

static int push_node(gbt_model_t *g)
{
    if (g->nnodes == g->cap) {
        int cap = g->cap ? g->cap * 2 : 1024;
        aud_node_t *n = realloc(g->nodes, (size_t)cap * sizeof *n);
        if (!n)
            return -1;
        g->nodes = n;
        g->cap = cap;
    }
    memset(&g->nodes[g->nnodes], 0, sizeof g->nodes[0]);
    g->nodes[g->nnodes].feature = -1;
    return g->nnodes++;
}

/* fills internal nodes' values as the cover-weighted mean of their children */
static double fill_values(aud_node_t *nodes, int32_t i)
{
    aud_node_t *n = &nodes[i];
    if (n->feature < 0)
        return n->value;
    double l = fill_values(nodes, n->left), r = fill_values(nodes, n->right);
    n->value = (float)(n->left_share * l + (1.0 - n->left_share) * r);
    return n->value;
}

static double tree_eval(const aud_node_t *nodes, int32_t i, const float *x)
{
    const aud_node_t *n = &nodes[i];
    if (n->feature < 0)
        return n->value;
    float v = x[n->feature];
    if (isnan(v))
        return n->left_share * tree_eval(nodes, n->left, x) +
               (1.0 - n->left_share) * tree_eval(nodes, n->right, x);
    return tree_eval(nodes, v < n->threshold ? n->left : n->right, x);
}

int gbt_train(const float *X, const int *y, const size_t *idx, size_t n, const gbt_params_t *p,
              gbt_model_t *out)
{
    memset(out, 0, sizeof *out);
    if (p->depth < 1 || p->depth > 6 || p->ntrees < 1)
        return -1;
    int rc = -1;
    float *Xs = NULL; /* X restricted to idx */
    size_t *order[AUD_NF] = {0};
    double *margin = malloc(n * sizeof *margin), *g = malloc(n * sizeof *g),
           *h = malloc(n * sizeof *h);
    int *node_of = malloc(n * sizeof *node_of); /* level-local node, -1 = not growing */
    int max_level = 1 << p->depth;
    tnode_t *level = calloc((size_t)max_level, sizeof *level);
    tnode_t *next = calloc((size_t)max_level, sizeof *next);
    double *acc_G = malloc((size_t)max_level * sizeof(double)),
           *acc_H = malloc((size_t)max_level * sizeof(double));
    long *acc_c = malloc((size_t)max_level * sizeof(long));
    float *last = malloc((size_t)max_level * sizeof(float));
    double gains[AUD_NF] = {0};
    out->roots = malloc((size_t)p->ntrees * sizeof *out->roots);
    if (!margin || !g || !h || !node_of || !level || !next || !acc_G || !acc_H || !acc_c || !last ||
        !out->roots)
        goto fail;

    /* presorted row order per feature (positions 0..n-1 into idx) */
    for (int f = 0; f < AUD_NF; f++) {
        order[f] = malloc(n * sizeof(size_t));
        if (!order[f])
            goto fail;
        for (size_t i = 0; i < n; i++)
            order[f][i] = i;
    }
    Xs = malloc(n * AUD_NF * sizeof(float));
    if (!Xs)
        goto fail;
    for (size_t i = 0; i < n; i++)
        memcpy(&Xs[i * AUD_NF], &X[idx[i] * AUD_NF], AUD_NF * sizeof(float));
    sort_X = Xs;
    for (int f = 0; f < AUD_NF; f++) {
        sort_f = f;
        qsort(order[f], n, sizeof(size_t), cmp_rows);
    }

    long pos = 0;
    for (size_t i = 0; i < n; i++)
        pos += y[idx[i]];
    double prior = ((double)pos + 0.5) / ((double)n + 1.0);
    out->m.base_margin = log(prior / (1 - prior));
    for (size_t i = 0; i < n; i++)
        margin[i] = out->m.base_margin;

    uint64_t rng = p->seed;
    for (int t = 0; t < p->ntrees; t++) {
        for (size_t i = 0; i < n; i++) {
            double pr = aud_sigmoid(margin[i]);
            g[i] = pr - y[idx[i]];
            h[i] = pr * (1 - pr);
            if (h[i] < 1e-6)
                h[i] = 1e-6;
        }
        bool allowed[AUD_NF];
        int nallowed = 0;
        for (int f = 0; f < AUD_NF; f++)
            nallowed += (allowed[f] = rng_unit(&rng) < p->colsample);
        if (!nallowed)
            allowed[rng_next(&rng) % AUD_NF] = true;

        int root = push_node(out);
        if (root < 0)
            goto fail;
        out->roots[t] = root;
        int nlevel = 1;
        level[0] = (tnode_t){.out = root, .lo = -INFINITY, .hi = INFINITY};
        for (size_t i = 0; i < n; i++) {
            node_of[i] = rng_unit(&rng) < p->subsample ? 0 : -1;
            if (node_of[i] == 0) {
                level[0].G += g[i];
                level[0].H += h[i];
                level[0].count++;
            }
        }

        for (int d = 0; d <= p->depth && nlevel > 0; d++) {
            for (int k = 0; k < nlevel; k++) {
                level[k].feature = -1;
                level[k].gain = p->gamma;
            }
            if (d < p->depth) {
                for (int f = 0; f < AUD_NF; f++) {
                    if (!allowed[f])
                        continue;
                    int mono = aud_feature_monotone[f];
                    for (int k = 0; k < nlevel; k++) {
                        acc_G[k] = acc_H[k] = 0;
                        acc_c[k] = 0;
                    }
                    for (size_t r = 0; r < n; r++) {
                        size_t i = order[f][r];
                        int k = node_of[i];
                        if (k < 0)
                            continue;
                        float v = Xs[i * AUD_NF + f];
                        if (isnan(v))
                            continue; /* unknown: no split position; follows the heavier side */
                        tnode_t *nd = &level[k];
                        if (acc_c[k] > 0 && v > last[k]) {
                            double GL = acc_G[k], HL = acc_H[k], GR = nd->G - GL, HR = nd->H - HL;
                            long cl = acc_c[k], cr = nd->count - cl;
                            if (cl >= p->min_leaf && cr >= p->min_leaf && HL >= p->min_child_h &&
                                HR >= p->min_child_h) {
                                double wl = leaf_weight(GL, HL, p->lambda, nd->lo, nd->hi);
                                double wr = leaf_weight(GR, HR, p->lambda, nd->lo, nd->hi);
                                if (!((mono > 0 && wl > wr) || (mono < 0 && wl < wr))) {
                                    double wp =
                                        leaf_weight(nd->G, nd->H, p->lambda, nd->lo, nd->hi);
                                    double gain = loss_gain(GL, HL, p->lambda, wl) +
                                                  loss_gain(GR, HR, p->lambda, wr) -
                                                  loss_gain(nd->G, nd->H, p->lambda, wp);
                                    if (gain > nd->gain) {
                                        nd->gain = gain;
                                        nd->feature = f;
                                        nd->threshold = (float)(((double)last[k] + (double)v) / 2);
                                        if (!(nd->threshold > last[k]))
                                            nd->threshold = v;
                                        nd->wl = wl;
                                        nd->wr = wr;
                                        nd->GL = GL;
                                        nd->HL = HL;
                                        nd->cl = cl;
                                    }
                                }
                            }
                        }
                        acc_G[k] += g[i];
                        acc_H[k] += h[i];
                        acc_c[k]++;
                        last[k] = v;
                    }
                }
            }
            /* split or close each node of this level */
            int nnext = 0;
            int map_left[64], map_right[64];
            for (int k = 0; k < nlevel; k++) {
                tnode_t *nd = &level[k];
                map_left[k] = map_right[k] = -1;
                if (nd->feature < 0) {
                    out->nodes[nd->out].feature = -1;
                    out->nodes[nd->out].value =
                        (float)(p->eta * leaf_weight(nd->G, nd->H, p->lambda, nd->lo, nd->hi));
                    continue;
                }
                int li = push_node(out), ri = push_node(out);
                if (li < 0 || ri < 0)
                    goto fail;
                aud_node_t *on = &out->nodes[nd->out];
                on->feature = nd->feature;
                on->threshold = nd->threshold;
                on->left = li;
                on->right = ri;
                on->left_share = (float)(nd->HL / nd->H);
                gains[nd->feature] += nd->gain;
                double lo = nd->lo, hi = nd->hi, mid = (nd->wl + nd->wr) / 2;
                tnode_t L = {
                    .out = li, .G = nd->GL, .H = nd->HL, .count = nd->cl, .lo = lo, .hi = hi};
                tnode_t R = {.out = ri,
                             .G = nd->G - nd->GL,
                             .H = nd->H - nd->HL,
                             .count = nd->count - nd->cl,
                             .lo = lo,
                             .hi = hi};
                int mono = aud_feature_monotone[nd->feature];
                if (mono > 0) {
                    L.hi = fmin(hi, mid);
                    R.lo = fmax(lo, mid);
                } else if (mono < 0) {
                    L.lo = fmax(lo, mid);
                    R.hi = fmin(hi, mid);
                }
                map_left[k] = nnext;
                next[nnext++] = L;
                map_right[k] = nnext;
                next[nnext++] = R;
            }
            for (size_t i = 0; i < n; i++) {
                int k = node_of[i];
                if (k < 0)
                    continue;
                tnode_t *nd = &level[k];
                if (nd->feature < 0) {
                    node_of[i] = -1;
                    continue;
                }
                float v = Xs[i * AUD_NF + nd->feature];
                bool left = isnan(v) ? nd->HL >= nd->H - nd->HL : v < nd->threshold;
                node_of[i] = left ? map_left[k] : map_right[k];
            }
            tnode_t *tmp = level;
            level = next;
            next = tmp;
            nlevel = nnext;
        }
        fill_values(out->nodes, root);
        for (size_t i = 0; i < n; i++)
            margin[i] += tree_eval(out->nodes, root, &Xs[i * AUD_NF]);
    }

    double total = 0;
    for (int f = 0; f < AUD_NF; f++)
        total += gains[f];
    for (int f = 0; f < AUD_NF; f++)
        out->importance[f] = total > 0 ? (float)(gains[f] / total) : 0.0f;
    out->m.ntrees = p->ntrees;
    out->m.roots = out->roots;
    out->m.nodes = out->nodes;
    out->m.nnodes = out->nnodes;
    out->m.importance = out->importance;
    out->m.version = "unversioned";
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "gbt_train: out of memory\n");
    gbt_free(out);
done:
    free(Xs);
    for (int f = 0; f < AUD_NF; f++)
        free(order[f]);
    free(margin);
    free(g);
    free(h);
    free(node_of);
    free(level);
    free(next);
    free(acc_G);
    free(acc_H);
    free(acc_c);
    free(last);
    return rc;
}

void gbt_free(gbt_model_t *g)
{
    free(g->nodes);
    free(g->roots);
    memset(g, 0, sizeof *g);
}
