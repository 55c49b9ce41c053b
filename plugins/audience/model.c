/*
 * audience plugin — scoring with the gradient-boosted tree ensemble whose
 * parameters tools/audience/train writes into model_params.c.
 *
 * An unknown feature is never read as a value: at a split on it, the
 * margin is the average of both branches weighted by the share of the
 * training weight each received (C4.5's fractional instances). With every
 * feature unknown the score is the training prior; the verdict's confidence
 * says how much of the model's importance was actually observed.
 */
#include "scoring.h"

#include <math.h>
#include <stdbool.h>

double aud_sigmoid(double margin)
{
    if (margin >= 0)
        return 1.0 / (1.0 + exp(-margin));
    double e = exp(margin);
    return e / (1.0 + e);
}

/* The expected value of the subtree under node for x. */
static double node_eval(const aud_node_t *nodes, int32_t i, const float x[AUD_NF])
{
    for (;;) {
        const aud_node_t *n = &nodes[i];
        if (n->feature < 0)
            return n->value;
        float v = x[n->feature];
        if (isnan(v))
            return n->left_share * node_eval(nodes, n->left, x) +
                   (1.0 - n->left_share) * node_eval(nodes, n->right, x);
        i = v < n->threshold ? n->left : n->right;
    }
}

static bool all_known(const float x[AUD_NF])
{
    for (int f = 0; f < AUD_NF; f++)
        if (isnan(x[f]))
            return false;
    return true;
}

double aud_model_margin(const aud_model_t *m, const float x[AUD_NF])
{
    double margin = m->base_margin;
    if (m->flat && all_known(x)) {
        for (int t = 0; t < m->ntrees; t++) {
            const aud_flat_tree_t *ft = &m->flat[t];
            int i = 0;
            for (int d = 0; d < AUD_FLAT_DEPTH; d++)
                i = 2 * i + 1 + (x[ft->feature[i]] >= ft->threshold[i]);
            margin += ft->value[i];
        }
        return margin;
    }
    for (int t = 0; t < m->ntrees; t++)
        margin += node_eval(m->nodes, m->roots[t], x);
    return margin;
}

/* Walks the path (both paths, weighted, at an unknown feature) and credits
 * each known split's feature with the change of the expected value. The
 * value of an internal node is the weighted mean of its children, so the
 * credits of a tree add up to its output minus its root's value. */
static void node_contrib(const aud_node_t *nodes, int32_t i, double weight, const float x[AUD_NF],
                         double contrib[AUD_NF])
{
    for (;;) {
        const aud_node_t *n = &nodes[i];
        if (n->feature < 0)
            return;
        float v = x[n->feature];
        if (isnan(v)) {
            node_contrib(nodes, n->left, weight * n->left_share, x, contrib);
            weight *= 1.0 - n->left_share;
            i = n->right;
            continue;
        }
        int32_t next = v < n->threshold ? n->left : n->right;
        contrib[n->feature] += weight * (nodes[next].value - n->value);
        i = next;
    }
}

void aud_model_contrib(const aud_model_t *m, const float x[AUD_NF], double contrib[AUD_NF])
{
    for (int f = 0; f < AUD_NF; f++)
        contrib[f] = 0;
    if (m->flat && all_known(x)) {
        for (int t = 0; t < m->ntrees; t++) {
            const aud_flat_tree_t *ft = &m->flat[t];
            int i = 0;
            for (int d = 0; d < AUD_FLAT_DEPTH; d++) {
                int next = 2 * i + 1 + (x[ft->feature[i]] >= ft->threshold[i]);
                contrib[ft->feature[i]] += ft->value[next] - ft->value[i];
                i = next;
            }
        }
        return;
    }
    for (int t = 0; t < m->ntrees; t++)
        node_contrib(m->nodes, m->roots[t], 1.0, x, contrib);
}

double aud_model_confidence(const aud_model_t *m, const float x[AUD_NF])
{
    double known = 0;
    for (int f = 0; f < AUD_NF; f++)
        if (!isnan(x[f]))
            known += m->importance[f];
    return known < 0 ? 0 : known > 1 ? 1 : known;
}
