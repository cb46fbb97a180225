/* data.c - loaders: trans-de-en sentence pairs, sentiment JSON, the Brown corpus. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text_internal.h"

/* ---- trans-de-en -------------------------------------------------------------- */

static const char *find_str(const char *s, size_t n, const char *pat, size_t pl)
{
    if (pl == 0 || n < pl) return NULL;
    for (const char *p = s, *end = s + n - pl; p <= end; p++) {
        p = memchr(p, pat[0], (size_t)(end - p) + 1);
        if (!p) return NULL;
        if (memcmp(p, pat, pl) == 0) return p;
    }
    return NULL;
}

/* Python's str.split() white space, so the cleaning matches DATA.md's count. */
static bool is_py_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

/* The first synonym of a sub-entry without annotations, white space
 * collapsed, into out (reset); returns its word count. */
static size_t clean_entry(const char *s, size_t n, buf *out, bool *oom)
{
    const char *semi = find_str(s, n, "; ", 2);
    if (semi) n = (size_t)(semi - s);
    buf tmp = {0};
    for (size_t i = 0; i < n; i++) {
        char close = s[i] == '{' ? '}' : s[i] == '[' ? ']' : s[i] == '<' ? '>' : 0;
        if (close) {
            const char *e = memchr(s + i + 1, close, n - i - 1);
            if (e) {
                i = (size_t)(e - s);
                continue;
            }
        }
        if (!tx__buf_put(&tmp, s + i, 1)) *oom = true;
    }
    out->n = 0;
    size_t words = 0, i = 0;
    bool in_word = false;
    while (i < tmp.n) {
        uint32_t c;
        size_t l = tx_utf8_next(tmp.b + i, tmp.n - i, &c, NULL);
        if (is_py_space(c)) {
            in_word = false;
        } else {
            if (!in_word) {
                if (words && !tx__buf_put(out, " ", 1)) *oom = true;
                words++;
                in_word = true;
            }
            if (!tx__buf_put(out, tmp.b + i, l)) *oom = true;
        }
        i += l;
    }
    free(tmp.b);
    return words;
}

static bool sentence_ok(const buf *b, size_t words)
{
    static const char *const placeholders[] = {"etw.", "jdm.", "sth.", "sb."};
    if (b->n == 0 || words < 3) return false;
    char last = b->b[b->n - 1];
    if (last != '.' && last != '!' && last != '?') return false;
    if (memchr(b->b, '(', b->n) || memchr(b->b, ')', b->n) || memchr(b->b, 0, b->n)) return false;
    if (find_str(b->b, b->n, " / ", 3)) return false;
    for (size_t k = 0; k < sizeof placeholders / sizeof *placeholders; k++)
        if (find_str(b->b, b->n, placeholders[k], strlen(placeholders[k]))) return false;
    return true;
}

static size_t count_str(const char *s, size_t n, const char *pat, size_t pl)
{
    size_t c = 0;
    const char *p;
    while ((p = find_str(s, n, pat, pl))) {
        c++;
        n -= (size_t)(p - s) + pl;
        s = p + pl;
    }
    return c;
}

int tx_load_trans(const char *path, tx_pairs *out)
{
    memset(out, 0, sizeof *out);
    if (!path) return tx__fail("tx_load_trans: NULL path");
    char *text;
    size_t n;
    if (tx__read_file(path, NULL, &text, &n) != 0) return -1;
    pool *pl = calloc(1, sizeof *pl);
    tx_vocab *seen = tx_vocab_new();
    buf de = {0}, en = {0}, key = {0};
    size_t cap = 0, lines = 0, entries = 0;
    bool oom = !pl || !seen;
    const char *p = text, *end = text + n;
    while (p < end && !oom) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        const char *ls = p;
        p = eol ? eol + 1 : end;
        if (le > ls && le[-1] == '\r') le--;
        if (le == ls || *ls == '#') continue;
        const char *sep = find_str(ls, (size_t)(le - ls), " :: ", 4);
        if (!sep) continue;
        lines++;
        const char *d = ls, *dend = sep, *e = sep + 4, *eend = le;
        if (count_str(d, (size_t)(dend - d), " | ", 3) != count_str(e, (size_t)(eend - e), " | ", 3))
            continue;
        while (d <= dend && e <= eend && !oom) {
            const char *dn = find_str(d, (size_t)(dend - d), " | ", 3);
            const char *en_ = find_str(e, (size_t)(eend - e), " | ", 3);
            const char *dseg_end = dn ? dn : dend, *eseg_end = en_ ? en_ : eend;
            entries++;
            size_t wd = clean_entry(d, (size_t)(dseg_end - d), &de, &oom);
            size_t we = clean_entry(e, (size_t)(eseg_end - e), &en, &oom);
            if (!oom && sentence_ok(&de, wd) && sentence_ok(&en, we)) {
                out->n_kept++;
                key.n = 0;
                if (!tx__buf_put(&key, de.b, de.n) || !tx__buf_put(&key, "", 1) || !tx__buf_put(&key, en.b, en.n)) {
                    oom = true;
                    break;
                }
                if (tx_vocab_find(seen, key.b, key.n) < 0) {
                    if (tx_vocab_add(seen, key.b, key.n) < 0 ||
                        !tx__grow((void **)&out->pairs, &cap, out->n + 1, sizeof *out->pairs)) {
                        oom = true;
                        break;
                    }
                    tx_pair *pr = &out->pairs[out->n];
                    pr->src = tx__pool_strndup(pl, de.b, de.n);
                    pr->tgt = tx__pool_strndup(pl, en.b, en.n);
                    if (!pr->src || !pr->tgt) oom = true;
                    out->n++;
                }
            }
            if (!dn || !en_) break;
            d = dn + 3;
            e = en_ + 3;
        }
    }
    free(text);
    free(de.b);
    free(en.b);
    free(key.b);
    tx_vocab_free(seen);
    out->pool_ = pl;
    if (oom) {
        tx_pairs_free(out);
        return tx__fail("out of memory loading %s", path);
    }
    if (lines == 0 || out->n == 0) {
        tx_pairs_free(out);
        return tx__fail("%s: no 'GERMAN :: ENGLISH' lines with clean sentence pairs (%zu dictionary "
                    "lines, %zu sub-entries): not the trans-de-en dictionary?",
                    path, lines, entries);
    }
    return 0;
}

void tx_pairs_free(tx_pairs *p)
{
    if (!p) return;
    free(p->pairs);
    tx__pool_free(p->pool_);
    free(p->pool_);
    memset(p, 0, sizeof *p);
}

/* ---- sentiment JSON ----------------------------------------------------------- */

typedef struct {
    const char *s, *path;
    size_t n, i;
} json;

static int json_fail(const json *j, const char *what)
{
    size_t line = 1, col = 1;
    for (size_t k = 0; k < j->i && k < j->n; k++) {
        if (j->s[k] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    if (j->i >= j->n) return tx__fail("%s: %s at end of file (truncated?)", j->path, what);
    return tx__fail("%s:%zu:%zu: %s", j->path, line, col, what);
}

static void json_ws(json *j)
{
    while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' ||
                           j->s[j->i] == '\r'))
        j->i++;
}

static bool json_eat(json *j, char c)
{
    json_ws(j);
    if (j->i < j->n && j->s[j->i] == c) {
        j->i++;
        return true;
    }
    return false;
}

static int json_hex4(json *j, uint32_t *v)
{
    if (j->n - j->i < 4) return -1;
    *v = 0;
    for (int k = 0; k < 4; k++) {
        int h = tx__hexval(j->s[j->i + (size_t)k]);
        if (h < 0) return -1;
        *v = *v * 16 + (uint32_t)h;
    }
    j->i += 4;
    return 0;
}

static const uint16_t cp1252[32] = {
    0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x8D,   0x017D, 0x8F,   0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,   0x017E, 0x0178};

static bool put_cp(buf *b, uint32_t cp)
{
    char enc[4];
    if (cp >= 0x80 && cp <= 0x9F) cp = cp1252[cp - 0x80];
    size_t l = tx_utf8_encode(cp, enc);
    if (!l) l = tx_utf8_encode(TX_REPLACEMENT, enc);
    return tx__buf_put(b, enc, l);
}

/* A JSON string (the opening quote next) decoded to UTF-8 into out. */
static int json_string(json *j, buf *out)
{
    out->n = 0;
    if (!json_eat(j, '"')) return json_fail(j, "expected a string");
    for (;;) {
        if (j->i >= j->n) return json_fail(j, "unterminated string");
        unsigned char c = (unsigned char)j->s[j->i];
        if (c == '"') {
            j->i++;
            return 0;
        }
        if (c < 0x20) return json_fail(j, "control character in a string");
        uint32_t cp;
        if (c == '\\') {
            if (++j->i >= j->n) return json_fail(j, "unterminated string");
            char e = j->s[j->i++];
            switch (e) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u':
                if (json_hex4(j, &cp) != 0) return json_fail(j, "bad \\u escape");
                if (cp >= 0xD800 && cp <= 0xDBFF && j->n - j->i >= 6 && j->s[j->i] == '\\' &&
                    j->s[j->i + 1] == 'u') {
                    uint32_t lo;
                    size_t save = j->i;
                    j->i += 2;
                    if (json_hex4(j, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF)
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    else
                        j->i = save;
                }
                if (cp >= 0xD800 && cp <= 0xDFFF) cp = TX_REPLACEMENT; /* lone surrogate */
                break;
            default: j->i--; return json_fail(j, "bad escape in a string");
            }
        } else {
            j->i += tx_utf8_next(j->s + j->i, j->n - j->i, &cp, NULL);
        }
        if (!put_cp(out, cp)) return tx__fail_oom("sentiment text");
    }
}

/* A scalar that is not a string: number, null, true, false. Sets *is_null;
 * *num (and *is_int) for numbers. */
static int json_scalar(json *j, bool *is_null, double *num, bool *is_num)
{
    json_ws(j);
    *is_null = *is_num = false;
    const char *s = j->s + j->i;
    size_t left = j->n - j->i;
    if (left >= 4 && memcmp(s, "null", 4) == 0) {
        j->i += 4;
        *is_null = true;
        return 0;
    }
    if (left >= 4 && memcmp(s, "true", 4) == 0) {
        j->i += 4;
        return 0;
    }
    if (left >= 5 && memcmp(s, "false", 5) == 0) {
        j->i += 5;
        return 0;
    }
    char tmp[64];
    size_t k = 0;
    while (k < left && k < sizeof tmp - 1 && strchr("+-0123456789.eE", s[k]) && s[k]) {
        tmp[k] = s[k];
        k++;
    }
    tmp[k] = 0;
    char *endp;
    if (k == 0) return json_fail(j, "expected a value (string, number, null, true or false)");
    *num = strtod(tmp, &endp);
    if (*endp) return json_fail(j, "bad number");
    *is_num = true;
    j->i += k;
    return 0;
}

int tx_load_sentiment(const char *path, tx_labeled_set *out)
{
    memset(out, 0, sizeof *out);
    if (!path) return tx__fail("tx_load_sentiment: NULL path");
    char *text;
    size_t n, cap = 0;
    if (tx__read_file(path, NULL, &text, &n) != 0) return -1;
    json j = {text, path, n, 0};
    buf key = {0}, val = {0};
    pool *pl = calloc(1, sizeof *pl);
    int rc = -1;
    out->pool_ = pl;
    if (!pl) {
        tx__fail_oom("sentiment");
        goto done;
    }
    if (!json_eat(&j, '[')) {
        json_fail(&j, "expected '[' (a JSON array of records)");
        goto done;
    }
    if (!json_eat(&j, ']')) {
        do {
            if (!json_eat(&j, '{')) {
                json_fail(&j, "expected '{' (a record)");
                goto done;
            }
            bool have_text = false, have_label = false;
            int label = 0;
            char *rec_text = NULL;
            size_t rec_len = 0;
            if (!json_eat(&j, '}')) {
                do {
                    json_ws(&j);
                    if (json_string(&j, &key) != 0) goto done;
                    if (!json_eat(&j, ':')) {
                        json_fail(&j, "expected ':'");
                        goto done;
                    }
                    json_ws(&j);
                    bool is_text = key.n == 4 && memcmp(key.b, "text", 4) == 0;
                    bool is_class = key.n == 5 && memcmp(key.b, "class", 5) == 0;
                    if (j.i < j.n && j.s[j.i] == '"') {
                        if (json_string(&j, &val) != 0) goto done;
                        if (is_class) {
                            json_fail(&j, "\"class\" must be 0, 1 or null, not a string");
                            goto done;
                        }
                        if (is_text) { /* trim */
                            size_t a = 0, b = val.n;
                            while (a < b && strchr(" \t\r\n", val.b[a])) a++;
                            while (b > a && strchr(" \t\r\n", val.b[b - 1])) b--;
                            rec_text = tx__pool_strndup(pl, val.b + a, b - a);
                            rec_len = b - a;
                            if (!rec_text) {
                                tx__fail_oom("sentiment text");
                                goto done;
                            }
                            have_text = true;
                        }
                    } else if (j.i < j.n && (j.s[j.i] == '{' || j.s[j.i] == '[')) {
                        json_fail(&j, "nested values are not expected in a record");
                        goto done;
                    } else {
                        bool is_null, is_num;
                        double num = 0;
                        size_t vstart = j.i;
                        if (json_scalar(&j, &is_null, &num, &is_num) != 0) goto done;
                        if (is_class && !is_null) {
                            if (!is_num || (num != 0 && num != 1)) {
                                j.i = vstart;
                                json_fail(&j, "\"class\" must be 0, 1 or null");
                                goto done;
                            }
                            label = (int)num;
                            have_label = true;
                        }
                        if (is_text && !is_null) {
                            j.i = vstart;
                            json_fail(&j, "\"text\" must be a string");
                            goto done;
                        }
                    }
                } while (json_eat(&j, ','));
                if (!json_eat(&j, '}')) {
                    json_fail(&j, "expected ',' or '}' in a record");
                    goto done;
                }
            }
            if (!have_text || !have_label || rec_len == 0) {
                out->n_dropped++;
                continue;
            }
            if (!tx__grow((void **)&out->items, &cap, out->n + 1, sizeof *out->items)) {
                tx__fail_oom("sentiment records");
                goto done;
            }
            out->items[out->n].text = rec_text;
            out->items[out->n].label = label;
            out->n++;
        } while (json_eat(&j, ','));
        if (!json_eat(&j, ']')) {
            json_fail(&j, "expected ',' or ']' after a record");
            goto done;
        }
    }
    json_ws(&j);
    if (j.i != j.n) {
        json_fail(&j, "unexpected text after the array");
        goto done;
    }
    if (out->n == 0) {
        tx__fail("%s: no records with a text and a class", path);
        goto done;
    }
    rc = 0;
done:
    free(text);
    free(key.b);
    free(val.b);
    if (rc != 0) tx_labeled_free(out);
    return rc;
}

void tx_labeled_free(tx_labeled_set *s)
{
    if (!s) return;
    free(s->items);
    tx__pool_free(s->pool_);
    free(s->pool_);
    memset(s, 0, sizeof *s);
}

/* ---- Brown corpus ----------------------------------------------------------------- */

static bool brown_name(const char *s)
{
    return strlen(s) == 4 && s[0] == 'c' && s[1] >= 'a' && s[1] <= 'r' && s[2] >= '0' &&
           s[2] <= '9' && s[3] >= '0' && s[3] <= '9';
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int tx_load_brown(const char *dir, tx_corpus *out)
{
    memset(out, 0, sizeof *out);
    if (!dir) return tx__fail("tx_load_brown: NULL folder");
    DIR *d = opendir(dir);
    if (!d)
        return tx__fail("cannot open the Brown corpus folder %s: %s (fetch it with tools/fetch-data.sh "
                    "--only brown)",
                    dir, strerror(errno));
    char **names = NULL, *path = NULL;
    size_t nn = 0, ncap = 0, tcap = 0, scap = 0;
    size_t *sent_start = NULL; /* token index where each sentence starts */
    pool *pl = calloc(1, sizeof *pl);
    int rc = -1;
    out->pool_ = pl;
    if (!pl) {
        closedir(d);
        tx__fail_oom("Brown corpus");
        goto done;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!brown_name(e->d_name)) continue;
        if (!tx__grow((void **)&names, &ncap, nn + 1, sizeof *names) ||
            !(names[nn] = tx__pool_strndup(pl, e->d_name, 4))) {
            closedir(d);
            tx__fail_oom("Brown corpus");
            goto done;
        }
        nn++;
    }
    closedir(d);
    if (nn == 0) {
        tx__fail("%s holds no Brown corpus files c[a-r][0-9][0-9] (fetch them with "
             "tools/fetch-data.sh --only brown)",
             dir);
        goto done;
    }
    qsort(names, nn, sizeof *names, cmp_str);
    path = malloc(strlen(dir) + 8);
    if (!path) {
        tx__fail_oom("Brown corpus");
        goto done;
    }
    for (size_t f = 0; f < nn; f++) {
        sprintf(path, "%s/%s", dir, names[f]);
        char *text;
        size_t n;
        if (tx__read_file(path, pl, &text, &n) != 0) goto done;
        size_t line = 0;
        char *p = text, *end = text + n;
        while (p < end) {
            char *eol = memchr(p, '\n', (size_t)(end - p));
            char *le = eol ? eol : end;
            line++;
            size_t first = out->n_tokens;
            char *q = p;
            while (q < le) {
                while (q < le && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
                if (q >= le) break;
                char *ts = q;
                while (q < le && *q != ' ' && *q != '\t' && *q != '\r') q++;
                char *slash = NULL;
                for (char *c = q - 1; c >= ts; c--)
                    if (*c == '/') {
                        slash = c;
                        break;
                    }
                if (!slash || slash == ts || slash == q - 1 || memchr(ts, 0, (size_t)(q - ts))) {
                    int tl = (int)(q - ts < 40 ? q - ts : 40);
                    for (char *c = ts; c < ts + tl; c++)
                        if (!*c) *c = '?';
                    tx__fail("%s:%zu: token '%.*s' is not word/tag", path, line, tl, ts);
                    goto done;
                }
                if (!tx__grow((void **)&out->tokens_, &tcap, out->n_tokens + 1, sizeof *out->tokens_)) {
                    tx__fail_oom("Brown tokens");
                    goto done;
                }
                *slash = 0;
                if (q < end) *q = 0; /* q is a separator, '\n' or end (text is NUL-terminated) */
                out->tokens_[out->n_tokens].word = ts;
                out->tokens_[out->n_tokens].tag = slash + 1;
                out->n_tokens++;
                q++;
            }
            if (out->n_tokens > first) {
                if (!tx__grow((void **)&sent_start, &scap, out->n + 2, sizeof *sent_start)) {
                    tx__fail_oom("Brown sentences");
                    goto done;
                }
                sent_start[out->n++] = first;
            }
            p = eol ? eol + 1 : end;
        }
    }
    if (out->n == 0) {
        tx__fail("%s: the Brown files hold no sentences", dir);
        goto done;
    }
    out->sent = malloc(out->n * sizeof *out->sent);
    if (!out->sent) {
        tx__fail_oom("Brown sentences");
        goto done;
    }
    sent_start[out->n] = out->n_tokens;
    for (size_t s = 0; s < out->n; s++) {
        out->sent[s].tok = out->tokens_ + sent_start[s];
        out->sent[s].n = sent_start[s + 1] - sent_start[s];
    }
    out->n_files = nn;
    rc = 0;
done:
    free(names);
    free(path);
    free(sent_start);
    if (rc != 0) tx_corpus_free(out);
    return rc;
}

void tx_corpus_free(tx_corpus *c)
{
    if (!c) return;
    free(c->sent);
    free(c->tokens_);
    tx__pool_free(c->pool_);
    free(c->pool_);
    memset(c, 0, sizeof *c);
}

size_t tx_brown_simplify(const char *tag, char *out, size_t cap)
{
    if (!tag) tag = "";
    size_t n = strlen(tag);
    const char *s = tag;
    if (n > 3 && (s[0] == 'f' || s[0] == 'F') && (s[1] == 'w' || s[1] == 'W') && s[2] == '-') {
        s += 3;
        n -= 3;
    }
    const char *plus = memchr(s, '+', n);
    if (plus && plus > s) n = (size_t)(plus - s);
    for (bool again = true; again;) {
        again = false;
        static const char *const suffixes[] = {"-tl", "-hl", "-nc"};
        for (int k = 0; k < 3; k++) {
            if (n > 3 && (s[n - 3] == '-') && (s[n - 2] | 0x20) == suffixes[k][1] &&
                (s[n - 1] | 0x20) == suffixes[k][2]) {
                n -= 3;
                again = true;
            }
        }
    }
    if (n > 1 && s[n - 1] == '*') n--;
    if (cap) {
        size_t m = n < cap - 1 ? n : cap - 1;
        for (size_t k = 0; k < m; k++) out[k] = (char)(s[k] >= 'A' && s[k] <= 'Z' ? s[k] + 32 : s[k]);
        out[m] = 0;
    }
    return n;
}

