/*
 * tools/audience/eval — 5-fold stratified cross-validation of the audience
 * plugin's model on the labelled training files, against the field's rule
 * sets, with accuracy, precision, recall, F1 and MCC ("fake" is the
 * positive class).
 *
 *   eval --genuine E13.train.csv --fake INT.train.csv [--folds 5] [--seed N]
 *
 * What is measured is the plugin's own code: each fold's model is trained
 * with the parameters the shipped model uses (gbt_default_params, fixed a
 * priori; nothing here is tuned on the folds), and each held-out profile is
 * classified by aud_classify() — the decision an audit takes — counting a
 * follower as predicted fake when its class is "fake". The rule sets are
 * fixed rules, not trained: their figures over the same folds are their
 * figures on the whole set.
 */
#include "data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct confusion {
    long tp, fp, tn, fn;
} confusion_t;

static void count(confusion_t *c, int truth, int predicted)
{
    if (truth && predicted)
        c->tp++;
    else if (truth)
        c->fn++;
    else if (predicted)
        c->fp++;
    else
        c->tn++;
}

static double mcc_of(const confusion_t *c)
{
    double tp = (double)c->tp, fp = (double)c->fp, tn = (double)c->tn, fn = (double)c->fn;
    double d = sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn));
    return d > 0 ? (tp * tn - fp * fn) / d : 0;
}

static void row(const char *name, const confusion_t *c)
{
    double tp = (double)c->tp, fp = (double)c->fp, tn = (double)c->tn, fn = (double)c->fn;
    double n = tp + fp + tn + fn;
    double acc = (tp + tn) / n;
    double prec = tp + fp > 0 ? tp / (tp + fp) : 0;
    double rec = tp + fn > 0 ? tp / (tp + fn) : 0;
    double f1 = prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0;
    printf("| %-46s | %6.3f | %6.3f | %6.3f | %6.3f | %6.3f | %4ld | %4ld | %4ld | %4ld |\n", name,
           acc, prec, rec, f1, mcc_of(c), c->tp, c->fp, c->tn, c->fn);
}

/* AUC by ranks (ties averaged) */
typedef struct scored {
    double s;
    int y;
} scored_t;
static int cmp_scored(const void *a, const void *b)
{
    double x = ((const scored_t *)a)->s, y = ((const scored_t *)b)->s;
    return x < y ? -1 : x > y;
}
static double auc(scored_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_scored);
    double rank_sum = 0;
    long pos = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j].s == v[i].s)
            j++;
        double r = (double)(i + j + 1) / 2.0; /* average 1-based rank */
        for (size_t k = i; k < j; k++)
            if (v[k].y) {
                rank_sum += r;
                pos++;
            }
        i = j;
    }
    long neg = (long)n - pos;
    return (rank_sum - pos * (pos + 1) / 2.0) / ((double)pos * (double)neg);
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int main(int argc, char **argv)
{
    aud_set_t set = {0};
    int next = 1;
    if (aud_set_load_args(&set, argc, argv, &next) != 0)
        return 1;
    int folds = 5;
    uint64_t seed = 42;
    for (int i = next; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--folds"))
            folds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seed"))
            seed = strtoull(argv[i + 1], NULL, 10);
    }
    if (folds < 2 || (size_t)folds > set.n) {
        fprintf(stderr, "bad --folds\n");
        return 2;
    }
    uint64_t seed0 = seed;
    size_t n = set.n;
    float *X = malloc(n * AUD_NF * sizeof *X);
    int *y = malloc(n * sizeof *y), *fold = malloc(n * sizeof *fold);
    size_t *perm = malloc(n * sizeof *perm), *train = malloc(n * sizeof *train);
    scored_t *scores = malloc(n * sizeof *scores);
    if (!X || !y || !fold || !perm || !train || !scores)
        return 1;
    long npos = 0;
    for (size_t i = 0; i < n; i++) {
        aud_features(&set.s[i].p, &X[i * AUD_NF]);
        y[i] = set.s[i].label;
        npos += y[i];
    }
    /* stratified folds: each class shuffled, then dealt round-robin */
    for (int cls = 0; cls <= 1; cls++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (y[i] == cls)
                perm[m++] = i;
        for (size_t i = m; i > 1; i--) {
            size_t j = rng_next(&seed) % i;
            size_t t = perm[i - 1];
            perm[i - 1] = perm[j];
            perm[j] = t;
        }
        for (size_t i = 0; i < m; i++)
            fold[perm[i]] = (int)(i % (size_t)folds);
    }

    confusion_t model = {0}, model_any = {0}, sp = {0}, cc = {0}, f30 = {0};
    double fold_mcc[64];
    long classes[AUD_NCLASSES][2] = {{0}};
    for (int k = 0; k < folds && k < 64; k++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (fold[i] != k)
                train[m++] = i;
        gbt_model_t g;
        if (gbt_train(X, y, train, m, &gbt_default_params, &g) != 0)
            return 1;
        confusion_t here = {0};
        for (size_t i = 0; i < n; i++) {
            if (fold[i] != k)
                continue;
            double s;
            aud_class_t c = aud_classify(&g.m, &set.s[i].p, &s, NULL);
            count(&model, y[i], c == AUD_FAKE);
            count(&here, y[i], c == AUD_FAKE);
            count(&model_any, y[i], c == AUD_FAKE || c == AUD_SUSPICIOUS);
            classes[c][y[i]]++;
            scores[i] = (scored_t){s, y[i]};
        }
        fold_mcc[k] = mcc_of(&here);
        gbt_free(&g);
    }
    for (size_t i = 0; i < n; i++) {
        const aud_profile_t *p = &set.s[i].p;
        count(&sp, y[i], aud_rule_statuspeople(p) == AUD_SP_FAKE);
        count(&cc, y[i], aud_rule_camisani(p, NULL) == 1);
        count(&f30, y[i], aud_rule_followers30(p) == 1);
    }

    double mean = 0, sd = 0;
    for (int k = 0; k < folds; k++)
        mean += fold_mcc[k];
    mean /= folds;
    for (int k = 0; k < folds; k++)
        sd += (fold_mcc[k] - mean) * (fold_mcc[k] - mean);
    sd = sqrt(sd / (folds > 1 ? folds - 1 : 1));

    printf("Audience model evaluation: %d-fold stratified cross-validation (seed %llu)\n", folds,
           (unsigned long long)seed0);
    printf("on %zu labelled profiles (%ld fake, %ld genuine); positive class = fake.\n", n, npos,
           (long)n - npos);
    printf("Model recipe: gradient-boosted trees as shipped (%d trees of depth <= %d),\n",
           gbt_default_params.ntrees, gbt_default_params.depth);
    printf("retrained on each fold's training part; the shipped model: %s.\n\n", aud_model.version);
    printf("| %-46s | %6s | %6s | %6s | %6s | %6s | %4s | %4s | %4s | %4s |\n", "method", "acc",
           "prec", "recall", "F1", "MCC", "TP", "FP", "TN", "FN");
    printf("|%s|--------|--------|--------|--------|--------|------|------|------|------|\n",
           "------------------------------------------------");
    row("audience plugin model (class = fake)", &model);
    row("audience plugin model (fake or suspicious)", &model_any);
    row("StatusPeople rules (Fake)", &sp);
    row("Camisani-Calzolari, 9 profile rules (bot)", &cc);
    row("single rule \"followers >= 30\" (else fake)", &f30);
    printf("\nPlugin model: MCC per fold");
    for (int k = 0; k < folds; k++)
        printf(" %.3f", fold_mcc[k]);
    printf(" (mean %.3f, sd %.3f); AUC of the score %.4f.\n", mean, sd, auc(scores, n));
    printf("Classes given to held-out profiles (genuine / fake label):");
    for (int c = 0; c < AUD_NCLASSES; c++)
        printf(" %s %ld/%ld", aud_class_names[c], classes[c][0], classes[c][1]);
    printf(".\n");
    double model_mcc = mcc_of(&model);
    bool goal = model_mcc >= 0.95 && model_mcc > mcc_of(&sp) && model_mcc > mcc_of(&cc) &&
                model_mcc > mcc_of(&f30);
    printf("Goal (MCC >= 0.95 and above every rule set): %s\n", goal ? "met" : "NOT met");

    free(X);
    free(y);
    free(fold);
    free(perm);
    free(train);
    free(scores);
    aud_set_free(&set);
    return 0;
}
