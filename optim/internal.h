/* optim/internal.h - what checkpoint.c needs to know about an optimizer
 * beyond the public API. */
#ifndef RECUR_OPTIM_INTERNAL_H
#define RECUR_OPTIM_INTERNAL_H

#include "recur/optim.h"

/* 0 when o's state buffers cover ps exactly (o was made for ps and ps has
 * not grown since); else -1 with the reason in why. */
int rc__optim_covers(const rc_optim *o, const rc_params *ps, char *why, size_t n);

#endif
