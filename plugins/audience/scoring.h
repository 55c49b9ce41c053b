/*
 * audience plugin — the scoring core: profile -> features -> model score ->
 * verdict (class, score, confidence, readable reasons), the baseline rule
 * sets of the field, and the burst detectors. Pure C (libc and libm only):
 * the plugin and the training/evaluation tools (tools/audience/) compile
 * these same files, so `make eval-audience` measures exactly the code that
 * scores followers in an audit.
 *
 * Missing data: every count and time is a double with NAN for "unknown",
 * every flag an int with -1 for "unknown", every text a pointer with NULL
 * for "unknown" ("" is a known empty field). Unknown is never read as zero:
 * the model averages over both sides of a split on an unknown feature
 * (weighted by how the training data went) and the verdict's confidence
 * drops by that feature's share of the model's importance.
 */
#ifndef AUDIENCE_SCORING_H
#define AUDIENCE_SCORING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------- profile */
typedef struct aud_profile {
    double followers, following, posts, likes, listed; /* NAN = unknown */
    double created_at;   /* account creation, unix seconds; NAN = unknown */
    double observed_at;  /* when the audience was observed (the snapshot) */
    double last_post_at; /* NAN = unknown */
    int default_avatar;  /* 1 / 0 / -1 unknown */
    int verified;        /* 1 / 0 / -1 unknown */
    const char *handle, *name, *bio, *url, *location; /* NULL = unknown */
} aud_profile_t;

void aud_profile_init(aud_profile_t *p); /* everything unknown */

/* ------------------------------------------------------------ features */
enum {
    AUD_F_FOLLOWERS,      /* log1p(followers) */
    AUD_F_FOLLOWING,      /* log1p(following) */
    AUD_F_POSTS,          /* log1p(posts) */
    AUD_F_LIKES,          /* log1p(likes given) */
    AUD_F_LISTED,         /* log1p(listed) */
    AUD_F_RATIO,          /* log((following + 1) / (followers + 1)) */
    AUD_F_AGE,            /* log1p(age in days at observation) */
    AUD_F_POSTS_PER_DAY,  /* log1p(posts / age days) */
    AUD_F_FOLLOW_PER_DAY, /* log1p(following / age days) */
    AUD_F_DEFAULT_AVATAR, /* 0/1 */
    AUD_F_HAS_NAME,       /* 0/1 */
    AUD_F_HAS_BIO,        /* 0/1 */
    AUD_F_HAS_URL,        /* 0/1 */
    AUD_F_HAS_LOCATION,   /* 0/1 */
    AUD_F_HANDLE_LEN,     /* characters */
    AUD_F_HANDLE_DIGITS,  /* digits in the handle */
    AUD_NF
};
extern const char *const aud_feature_names[AUD_NF];
/* Monotone direction of each feature in the model (+1: more of it can only
 * raise the fake score, -1: only lower it, 0: free). The trainer enforces
 * it; it keeps the model to signals that hold for fakes in general rather
 * than the habits of one seller (tools/audience/README.md). */
extern const int aud_feature_monotone[AUD_NF];

/* Fills x with the features of p (NAN where a feature is unknown). */
void aud_features(const aud_profile_t *p, float x[AUD_NF]);

/* --------------------------------------------------------------- model */
/* One node of a regression tree. Internal: go left when x[feature] <
 * threshold; an unknown x[feature] goes both ways, weighted by left_share
 * (the share of the training weight that went left). value: a leaf's output
 * (margin units, learning rate applied); for an internal node, the
 * weighted mean of its leaves (for per-feature contributions). */
typedef struct aud_node {
    int32_t feature; /* -1: leaf */
    float threshold;
    int32_t left, right; /* absolute node indices */
    float value;
    float left_share;
} aud_node_t;

/* The same trees as complete binary trees of depth 3 (a leaf above the
 * bottom is padded with splits that always go left): evaluated without
 * branches when every feature is known, the hot path of an audit. */
#define AUD_FLAT_DEPTH 3
#define AUD_FLAT_INNER 7 /* 2^3 - 1 */
typedef struct aud_flat_tree {
    int16_t feature[AUD_FLAT_INNER];
    float threshold[AUD_FLAT_INNER];
    float value[2 * AUD_FLAT_INNER + 1]; /* inner nodes 0..6, leaves 7..14 */
} aud_flat_tree_t;

typedef struct aud_model {
    const char *version;
    double base_margin;
    int ntrees;
    const int32_t *roots; /* ntrees root indices into nodes */
    const aud_node_t *nodes;
    int nnodes;
    const float *importance;     /* AUD_NF gain shares, summing to 1 */
    const aud_flat_tree_t *flat; /* ntrees of them, or NULL (deeper trees) */
} aud_model_t;

/* The trained model the plugin uses (generated: model_params.c). */
extern const aud_model_t aud_model;

/* Margin (log-odds) of x; unknown features averaged over both branches. */
double aud_model_margin(const aud_model_t *m, const float x[AUD_NF]);
/* Per-feature contributions to the margin (path attribution: the change in
 * the expected value at each split, credited to the split's feature): the
 * margin is base_margin + the trees' root values + sum(contrib). */
void aud_model_contrib(const aud_model_t *m, const float x[AUD_NF], double contrib[AUD_NF]);
/* Share of the model's importance carried by known features, in [0, 1]. */
double aud_model_confidence(const aud_model_t *m, const float x[AUD_NF]);
double aud_sigmoid(double margin);

/* ------------------------------------------------------------- verdict */
typedef enum aud_class {
    AUD_GENUINE = 0,
    AUD_INACTIVE = 1,
    AUD_SUSPICIOUS = 2,
    AUD_FAKE = 3,
} aud_class_t;
#define AUD_NCLASSES 4
extern const char *const aud_class_names[AUD_NCLASSES]; /* "genuine", ... */
int aud_class_parse(const char *s);                     /* -1 if not a class name */

/* Decision thresholds (documented in README.md; fixed a priori, not tuned
 * on the evaluation folds). */
#define AUD_FAKE_SCORE 0.5       /* score >= this: fake (if confident) */
#define AUD_SUSPICIOUS_SCORE 0.3 /* score >= this: at least suspicious */
#define AUD_MIN_CONFIDENCE 0.6   /* below: never "fake", at most suspicious */
#define AUD_MASS_FOLLOWING 1500  /* following > this: a mass follower */
#define AUD_INACTIVE_DAYS 90     /* no post for this long: inactive */

/* Reason codes: stable names in the API ("code"), text for people. */
typedef enum aud_reason_code {
    AUD_R_RATIO, /* following many while followed by few */
    AUD_R_FEW_FOLLOWERS,
    AUD_R_NEVER_POSTED,
    AUD_R_FEW_POSTS,
    AUD_R_YOUNG,
    AUD_R_DEFAULT_AVATAR,
    AUD_R_NO_NAME,
    AUD_R_NO_BIO,
    AUD_R_NO_URL,
    AUD_R_NO_LOCATION,
    AUD_R_HANDLE_DIGITS,
    AUD_R_NO_LIKES,
    AUD_R_NOT_LISTED,
    AUD_R_FOLLOW_RATE,    /* follows many accounts a day since creation */
    AUD_R_POST_RATE,      /* posting rate unlike a person's */
    AUD_R_FOLLOWING_MANY, /* following count itself */
    AUD_R_HANDLE_SHAPE,   /* handle length */
    AUD_R_MASS_FOLLOWER,  /* following > 1,500 */
    AUD_R_NO_RECENT_POSTS,
    AUD_R_LOW_ACTIVITY, /* almost no activity over the account's life */
    AUD_R_MISSING_DATA, /* fields unknown: lower confidence */
    AUD_NREASONS
} aud_reason_code_t;
extern const char *const aud_reason_names[AUD_NREASONS];

#define AUD_MAX_REASONS 7
#define AUD_REASON_TEXT 112

typedef struct aud_reason {
    aud_reason_code_t code;
    char text[AUD_REASON_TEXT];
} aud_reason_t;

typedef struct aud_verdict {
    aud_class_t cls;
    double score;      /* P(fake) from the model, [0, 1] */
    double confidence; /* [0, 1] */
    bool mass;         /* following > AUD_MASS_FOLLOWING */
    int nreasons;
    aud_reason_t reasons[AUD_MAX_REASONS]; /* most important first */
} aud_verdict_t;

/* The whole decision for one follower: model score, class, reasons. */
void aud_judge(const aud_model_t *m, const aud_profile_t *p, aud_verdict_t *v);
/* The class only (no reason text): what the evaluation measures; the same
 * decision aud_judge() takes. */
aud_class_t aud_classify(const aud_model_t *m, const aud_profile_t *p, double *score,
                         double *confidence);
/* "3,400" — thousands separators; returns buf. */
char *aud_fmt_count(char *buf, size_t cap, double n);
/* "2 years", "5 months", "12 days" — returns buf. */
char *aud_fmt_days(char *buf, size_t cap, double days);

/* --------------------------------------------------- baseline rule sets */
typedef enum aud_sp_result {
    AUD_SP_NOT_TESTED = 0,
    AUD_SP_GOOD = 1,
    AUD_SP_INACTIVE = 2,
    AUD_SP_FAKE = 3,
} aud_sp_result_t;
/* StatusPeople "Fakers" with its published thresholds; clauses that need
 * data a profile does not carry (the last post's link) are not satisfied. */
aud_sp_result_t aud_rule_statuspeople(const aud_profile_t *p);
/* Camisani-Calzolari, the rules profile data allows (name, image, address,
 * bio, >= 30 followers, listed, >= 50 posts, URL, 2 x followers >=
 * following): +1 per hit, -1 per miss; *points gets the sum. Returns 1 for
 * "bot" (points < -4), 0 neutral, -1 human (points > 0). Unknown inputs are
 * neither hit nor miss. */
int aud_rule_camisani(const aud_profile_t *p, int *points);
/* The single rule "followers >= 30": 1 = fake (fewer), 0 = human, -1 unknown. */
int aud_rule_followers30(const aud_profile_t *p);

/* -------------------------------------------------------------- bursts */
/* A point of an account's follower count series. */
typedef struct aud_point {
    double t; /* unix seconds */
    double followers;
} aud_point_t;

typedef struct aud_burst {
    double start, end; /* the window: last observation before, observation after */
    double gained;     /* followers gained in the window */
    double expected;   /* what the weekly pattern and trend predicted */
    double excess;     /* gained - expected */
    double z;          /* robust z-score of the largest day in the window */
    double followers_before, followers_after; /* counts at start and end */
    int days;                                 /* days in the window */
} aud_burst_t;

#define AUD_BURST_MIN_DAYS 8    /* daily deltas needed before anything is judged */
#define AUD_BURST_Z 3.5         /* modified z-score threshold (Iglewicz-Hoaglin) */
#define AUD_BURST_MIN_ABS 100.0 /* a jump smaller than this is never a burst */
#define AUD_BURST_MIN_REL 0.01  /* ... nor one below 1 % of the followers */

/* Finds abnormal follower jumps in pts (sorted by t, any spacing). Days are
 * UTC days; gaps are spread evenly over their days; the weekly pattern
 * (per-weekday medians) and a rolling-median trend are removed, and the
 * residuals are tested with median/MAD. Writes at most max bursts, returns
 * how many were found (may exceed max), or -1 when the series is too short
 * (fewer than AUD_BURST_MIN_DAYS daily deltas) or memory ran out. */
int aud_bursts_detect(const aud_point_t *pts, size_t n, aud_burst_t *out, int max);

/* Follow order vs creation time (NYT "Follower Factory"), for followers
 * without a count series. Fed followers oldest first (highest position
 * first): the running maximum of creation times along follow order is a
 * lower bound of when each follow happened. Bought batches show up as runs
 * of windows whose share of model fakes stands far above the list's own,
 * usually with creation dates packed in a narrow band. Memory: one small
 * record per window of AUD_ORDER_WINDOW followers. */
typedef struct aud_order_window {
    int64_t first_pos, last_pos; /* oldest and newest position in the window */
    int64_t n, fakes, known;     /* known: creation time known */
    double bound;                /* running max of creation at the newest member */
    double created_median, created_iqr_days;
} aud_order_window_t;

typedef struct aud_order_segment {
    int64_t first_pos, last_pos; /* oldest, newest member (first_pos >= last_pos) */
    int64_t size, fakes;
    double not_before;          /* every follow in it happened after this ... */
    double newest_not_before;   /* ... and its newest after this (tighter) */
    double created_median;      /* of its members' accounts */
    double created_iqr_days;    /* spread of their creation dates */
    double baseline_fake_share; /* the list's typical window */
    double baseline_iqr_days;
} aud_order_segment_t;

#define AUD_ORDER_WINDOW 200
#define AUD_ORDER_MIN_FAKE_SHARE 0.5 /* a window this fake ... */
#define AUD_ORDER_MIN_LIFT 0.3       /* ... and this far above the median window */
#define AUD_ORDER_MAX_SEGMENTS 32

typedef struct aud_order {
    double bound; /* running max of creation times (NAN until one is known) */
    aud_order_window_t cur;
    double created[AUD_ORDER_WINDOW]; /* creation times of the current window */
    aud_order_window_t *wins;
    size_t nwins, cap;
    bool oom;
    int nsegs;
    aud_order_segment_t segs[AUD_ORDER_MAX_SEGMENTS];
} aud_order_t;

void aud_order_init(aud_order_t *o);
void aud_order_add(aud_order_t *o, int64_t position, double created_at, bool fake);
/* Closes the last window and finds the segments (o->segs, o->nsegs);
 * returns their number, or -1 when memory ran out. */
int aud_order_finish(aud_order_t *o);
void aud_order_free(aud_order_t *o);

#endif /* AUDIENCE_SCORING_H */
