/*
 * tools/audience — loading the labelled follower profiles (cresci-2015
 * CSV files) into the plugin's own profile struct, and the gradient-boosted
 * tree trainer. Used by train.c (writes plugins/audience/model_params.c) and
 * eval.c (5-fold cross-validation against the field's rule sets).
 */
#ifndef TOOLS_AUDIENCE_DATA_H
#define TOOLS_AUDIENCE_DATA_H

#include "scoring.h"

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ data set */
typedef struct aud_sample {
    aud_profile_t p; /* strings point into the owning set */
    int label;       /* 1 = fake, 0 = genuine: from the file it came from */
} aud_sample_t;

typedef struct aud_set {
    aud_sample_t *s;
    size_t n, cap;
    char **strings; /* owned copies the profiles point at */
    size_t nstrings, capstrings;
} aud_set_t;

/* Appends every row of a cresci-2015 CSV file with the given label. Reads
 * only the columns a platform still reports (never `dataset`, colours or
 * theme fields). Returns rows read, or -1 (message on stderr). */
long aud_set_load_csv(aud_set_t *set, const char *path, int label);
void aud_set_free(aud_set_t *set);
/* Loads "--genuine FILE" and "--fake FILE" pairs from argv[1..]; *next is
 * the first argument not consumed. 0, or -1 (message on stderr). */
int aud_set_load_args(aud_set_t *set, int argc, char **argv, int *next);

/* "Fri Apr 06 10:58:22 +0000 2007" or "2015-02-14 10:54:49" (UTC) -> unix
 * seconds; NAN when it is neither. */
double aud_parse_time(const char *s);

/* ------------------------------------------------------------- trainer */
typedef struct gbt_params {
    int ntrees;
    int depth;
    int min_leaf;       /* training rows per leaf, at least */
    double eta;         /* learning rate */
    double lambda;      /* L2 on leaf weights */
    double min_child_h; /* hessian per child, at least */
    double gamma;       /* minimum gain of a split */
    double subsample;   /* rows per tree */
    double colsample;   /* features per tree */
    uint64_t seed;
} gbt_params_t;

/* The parameters the plugin's model is trained with; fixed a priori (the
 * evaluation uses the same, never tuned on its folds). */
extern const gbt_params_t gbt_default_params;

typedef struct gbt_model {
    aud_model_t m; /* points into the arrays below */
    aud_node_t *nodes;
    int32_t *roots;
    float importance[AUD_NF];
    int nnodes, cap;
} gbt_model_t;

/* Trains on rows idx[0..n) of X (AUD_NF floats each) with labels y. */
int gbt_train(const float *X, const int *y, const size_t *idx, size_t n, const gbt_params_t *p,
              gbt_model_t *out);
void gbt_free(gbt_model_t *g);

#endif
