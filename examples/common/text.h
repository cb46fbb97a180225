/* examples/common/text.h - text support for recur's examples (not part of
 * the library): UTF-8 characters, a word tokenizer, an xxHash-keyed
 * vocabulary, seeded splits, and loaders for the data tools/fetch-data.sh
 * puts in data/ (docs/DATA.md describes files, counts and baselines).
 *
 * Conventions: every name starts with tx_. Functions that can fail return -1
 * (or NULL) and leave a message naming the file or the reason in tx_error();
 * they never abort on bad input. Every loader has a matching free function
 * that also accepts a zeroed or already-freed struct. */
#ifndef RECUR_EXAMPLES_TEXT_H
#define RECUR_EXAMPLES_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The last error of this thread ("" when none). */
const char *tx_error(void);

/* ---- UTF-8 ------------------------------------------------------------- */

#define TX_REPLACEMENT 0xFFFDu /* stands for every invalid byte sequence */

/* Decodes the code point at s[0..n) (n > 0) into *cp and returns the bytes it
 * used. An invalid or truncated sequence (overlong forms, surrogates, values
 * past U+10FFFF, stray continuation bytes) yields U+FFFD for its maximal
 * invalid prefix (at least one byte, as the Unicode standard recommends) and
 * sets *valid to false when valid is not NULL. */
size_t tx_utf8_next(const char *s, size_t n, uint32_t *cp, bool *valid);

/* Writes cp as UTF-8 into out and returns its length (1-4), or 0 for a
 * surrogate or a value past U+10FFFF. */
size_t tx_utf8_encode(uint32_t cp, char out[4]);

/* Number of characters (code points) in s[0..n); invalid sequences count as
 * one U+FFFD each and are added to *n_invalid when it is not NULL. */
size_t tx_utf8_count(const char *s, size_t n, size_t *n_invalid);

/* ---- vocabulary ---------------------------------------------------------- */

/* Ids 0..3 are always these special tokens, in this order. */
enum { TX_PAD = 0, TX_UNK = 1, TX_BOS = 2, TX_EOS = 3, TX_NSPECIAL = 4 };

/* Token string <-> id, with a count per token: an open-addressing hash table
 * (linear probing, XXH3_64bits of the token's bytes) over a dense id array.
 * Tokens are byte strings of any content (NUL, newline, ... included). */
typedef struct tx_vocab tx_vocab;

tx_vocab *tx_vocab_new(void); /* holds the 4 special tokens, counts 0 */
void tx_vocab_free(tx_vocab *v);

/* Adds one occurrence of the token (inserting it if new) and returns its id,
 * or -1 when out of memory or the vocabulary is full (2^31 - 1 tokens). */
int32_t tx_vocab_add(tx_vocab *v, const char *tok, size_t len);
/* The token's id, or -1 when absent. */
int32_t tx_vocab_find(const tx_vocab *v, const char *tok, size_t len);
/* The token's id, or TX_UNK when absent. */
int32_t tx_vocab_id(const tx_vocab *v, const char *tok, size_t len);
/* The token of an id (NUL-terminated; *len its byte length when len is not
 * NULL), or NULL when the id is out of range. */
const char *tx_vocab_str(const tx_vocab *v, int32_t id, size_t *len);
uint64_t tx_vocab_count(const tx_vocab *v, int32_t id);
size_t tx_vocab_size(const tx_vocab *v);

/* A new vocabulary from a counting one: the special tokens, then the tokens
 * seen at least min_count times, most frequent first (ties in byte order),
 * at most max_size ids in all (0: no limit). Counts are kept. The result
 * depends only on the counts, not on insertion order. */
tx_vocab *tx_vocab_cut(const tx_vocab *counts, uint64_t min_count, size_t max_size);

/* Text file: a header line `# recur-vocab 1 SIZE`, then one line per id in
 * order, `COUNT<TAB>TOKEN`, the token escaped (\\ \t \n \r and \xHH for other
 * bytes below 0x20 and 0x7f). Load checks the header, the specials, the
 * count of lines and duplicates. */
int tx_vocab_save(const tx_vocab *v, const char *path);
tx_vocab *tx_vocab_load(const char *path);

/* For tests: hash with only the bits in mask (e.g. 0x7), forcing full-hash
 * collisions. Rehashes the table; ids do not change. */
void tx_vocab_set_hash_mask(tx_vocab *v, uint64_t mask);

/* ---- tokenizers ---------------------------------------------------------- */

/* Characters: each code point is a token, keyed by its UTF-8 bytes (invalid
 * sequences become U+FFFD). tx_count_chars adds every character of s to v;
 * tx_encode_chars returns malloc'd ids (TX_UNK for characters not in v) and
 * their number in *len (may be 0; NULL only when out of memory). */
int tx_count_chars(tx_vocab *v, const char *s, size_t n);
int32_t *tx_encode_chars(const tx_vocab *v, const char *s, size_t n, size_t *len);

/* Words, for translation. The rule, in order:
 *  - invalid UTF-8 becomes U+FFFD (a letter for what follows);
 *  - white space and control characters (U+0000-U+0020, U+007F-U+00A0,
 *    U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000)
 *    separate tokens and are dropped;
 *  - punctuation and symbols (ASCII punctuation, U+00A1-U+00BF except
 *    ª µ º ¹ ² ³ ¼ ½ ¾, × ÷, U+2010-U+205E, U+20A0-U+20CF, U+2190-U+2BFF,
 *    U+3001-U+303F) are one token each ...
 *  - ... except an apostrophe (' or ’) or hyphen (- or U+2010) between two
 *    word characters, and a . or , between two digits, which stay inside the
 *    word: "don’t", "e-mail", "3.5" and "1,000" are one token each;
 *  - every other run of characters is a word.
 * With TX_LOWER, words are lowercased: ASCII, Latin-1, Latin Extended-A,
 * Greek, Cyrillic and ẞ (other scripts are left as they are).
 * "Steve kommt nach seinem Vater." -> Steve kommt nach seinem Vater . */
enum { TX_LOWER = 1 };

typedef struct {
    char **tok;  /* n NUL-terminated tokens */
    size_t n;
    char *buf_;  /* private */
} tx_words;

int tx_split_words(const char *s, size_t n, int flags, tx_words *out);
void tx_words_free(tx_words *w);
int tx_count_words(tx_vocab *v, const char *s, size_t n, int flags);
/* malloc'd ids of the words of s, optionally framed by <bos> ... <eos>. */
int32_t *tx_encode_words(const tx_vocab *v, const char *s, size_t n, int flags,
                         bool bos, bool eos, size_t *len);

/* The tokens of ids joined by sep ("" for characters, " " for words), as a
 * malloc'd string (NULL when out of memory): <pad> and <bos> are skipped,
 * decoding stops at the first <eos>, ids out of range print as <unk>. */
char *tx_decode(const tx_vocab *v, const int32_t *ids, size_t n, const char *sep);

/* ---- deterministic splits ----------------------------------------------- */

/* splitmix64: the next value of the sequence seeded by *state. */
uint64_t tx_splitmix64(uint64_t *state);
/* A uniform value in [0, bound) (bound > 0), unbiased. */
uint64_t tx_rand_below(uint64_t *state, uint64_t bound);
/* Fisher-Yates shuffle of idx[0..n) driven by splitmix64(seed). */
void tx_shuffle(size_t *idx, size_t n, uint64_t seed);

typedef struct {
    size_t *train, *test; /* indices, ascending */
    size_t n_train, n_test;
} tx_split;

/* Random split: a seeded shuffle of 0..n-1, the first round(n * test_fraction)
 * of it held out. Same n, fraction and seed: same split on every machine. */
int tx_split_random(size_t n, double test_fraction, uint64_t seed, tx_split *out);
/* Every k-th item held out: i is test when i % k == k - 1 (the 10th, 20th,
 * ... for k = 10; DATA.md's Brown baseline uses this split). */
int tx_split_every(size_t n, size_t k, tx_split *out);
void tx_split_free(tx_split *s);

/* Contiguous split of a text: the byte offset where the held-out part starts,
 * at the first line start at or after train_fraction of the bytes (or at the
 * nearest character boundary when there is no line break after it). */
size_t tx_text_split(const char *s, size_t n, double train_fraction);

/* ---- data ---------------------------------------------------------------- */

/* The data folder: $RECUR_DATA when set, else "data" (relative to the
 * working directory). tx_data_file returns a malloc'd "DIR/rel". */
const char *tx_data_dir(void);
char *tx_data_file(const char *rel);

/* Whole file as a NUL-terminated malloc'd string (for data/kjv.txt and
 * data/fortunes.txt). An empty file is an error. */
int tx_load_text(const char *path, char **text, size_t *len);

/* German -> English sentence pairs from the Ding dictionary
 * (data/trans-de-en/de-en), cleaned as docs/DATA.md says: for every line
 * `DE :: EN` (not a # comment) whose sides split on " | " into the same number
 * of sub-entries, each aligned sub-entry pair is cut to its first synonym
 * (before "; "), loses {..} [..] <..> annotations and extra white space, and
 * is kept when both sides end in . ! or ?, have >= 3 words, and contain no
 * parentheses, no " / " and no placeholder (etw. jdm. sth. sb.). Duplicates
 * are dropped, first occurrence kept, in file order. */
typedef struct {
    const char *src, *tgt; /* German, English */
} tx_pair;

typedef struct {
    tx_pair *pairs;
    size_t n;
    size_t n_kept;   /* pairs that passed the filter, before removing duplicates */
    void *pool_;     /* private */
} tx_pairs;

int tx_load_trans(const char *path, tx_pairs *out);
void tx_pairs_free(tx_pairs *p);

/* Sentiment fixtures (data/sentiment/{imdb,yelp,amazon}.json): a JSON array
 * of {"text": "...", "class": 0|1}. Records with an empty text or a null
 * class are dropped (each file has one). Texts are trimmed of surrounding
 * white space and U+0080-U+009F (Windows-1252 bytes mis-decoded as Latin-1 in
 * the source) become the characters cp1252 meant (… – — ‘ ’ “ ” ...). */
typedef struct {
    const char *text;
    int label;
} tx_labeled;

typedef struct {
    tx_labeled *items;
    size_t n;
    size_t n_dropped;
    void *pool_;
} tx_labeled_set;

int tx_load_sentiment(const char *path, tx_labeled_set *out);
void tx_labeled_free(tx_labeled_set *s);

/* Brown corpus (data/brown): files c[a-r][0-9][0-9] in name order, one
 * sentence per non-blank line, tokens `word/tag` split at the last '/'.
 * Words and tags are as in the files (tags are lower case there). */
typedef struct {
    const char *word, *tag;
} tx_tagged;

typedef struct {
    tx_tagged *tok;
    size_t n;
} tx_sentence;

typedef struct {
    tx_sentence *sent;
    size_t n;
    size_t n_tokens;
    size_t n_files;
    tx_tagged *tokens_; /* private */
    void *pool_;
} tx_corpus;

int tx_load_brown(const char *dir, tx_corpus *out);
void tx_corpus_free(tx_corpus *c);

/* The simplified Brown tag, written NUL-terminated into out (truncated to
 * cap - 1 bytes); returns its full length. Rule, in order: lower-case; drop a
 * "fw-" prefix (foreign word); keep the part before the first '+' (pps+md ->
 * pps); drop trailing "-tl", "-hl", "-nc" (title, headline, cited), repeatedly;
 * drop a trailing '*' (negation: md* -> md) unless the tag is just "*".
 * The 472 full tags become 92. */
size_t tx_brown_simplify(const char *tag, char *out, size_t cap);

#endif
