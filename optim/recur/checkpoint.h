/* recur/checkpoint.h - checkpoints as safetensors files.
 *
 * A checkpoint is a safetensors file (8-byte little-endian header length,
 * JSON header, raw little-endian data) that PyTorch tools can read:
 *   - every parameter under its name (torch.nn names, e.g. weight_ih_l0),
 *     dtype F32 (F64 in a -Dreal=double build);
 *   - with an optimizer, its state as "optim.<state>.<param name>" (e.g.
 *     optim.exp_avg.weight_ih_l0), and in __metadata__ optim.kind,
 *     optim.step and optim.lr (strings), so a run resumes bit for bit;
 *   - in __metadata__, an XXH3-64 checksum of every tensor's bytes
 *     ("xxh3.<tensor name>": 16 hex digits; "recur.checksum": "xxh3-64").
 *
 * Saving is atomic: the file is written under a temporary name in the same
 * folder, fsync'ed, renamed over the target and the folder fsync'ed, so a
 * crash leaves the old checkpoint or the new one, never a torn file (a killed
 * save may leave a "<path>.tmp.XXXXXX" file behind).
 *
 * Loading checks the whole file before it touches the model: the header
 * (strict JSON, known dtypes, offsets inside the data, no overlaps or holes),
 * every checksum, and that the tensors are exactly the model's parameters
 * (same names, same shapes; optimizer state too when an optimizer is given).
 * On any problem it returns -1 with a message naming the file and the
 * problem, and the model and optimizer are unchanged. Files written by other
 * tools (no "recur.checksum") load without checksums; F32 and F64 data both
 * load into either build.
 */
#ifndef RECUR_CHECKPOINT_H
#define RECUR_CHECKPOINT_H

#include <stddef.h>

#include "recur/graph.h"
#include "recur/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A comfortable size for the error buffers below. */
#define RC_CHECKPOINT_ERROR_SIZE 512

/* Writes every parameter of ps (and the state of opt, if not NULL) to path.
 * Returns 0, or -1 with a message in err (errlen bytes; err may be NULL). */
int rc_checkpoint_save(const char *path, rc_params *ps, rc_optim *opt, char *err,
                       size_t errlen);

/* Loads path into ps (and opt, if not NULL: its state, step count and lr).
 * With opt NULL, optimizer tensors in the file are checked but not used.
 * Returns 0, or -1 with a message in err; nothing changes then. */
int rc_checkpoint_load(const char *path, rc_params *ps, rc_optim *opt, char *err,
                       size_t errlen);

/* The same from a file already in memory; label names it in messages. */
int rc_checkpoint_load_buffer(const void *data, size_t size, const char *label,
                              rc_params *ps, rc_optim *opt, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
