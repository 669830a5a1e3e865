/* csv.c — the numeric CSV reader (csv.h). Strict on purpose: a calibration
 * or input file with a typo must fail at the exact line and column, not
 * silently shift every following value. Numbers are decimal (C strtod syntax
 * restricted to digits, sign, point and exponent: no hex, no inf/nan) and
 * must be finite. */
#include "csv.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void csv_free(csv_table *t) {
    if (!t) return;
    free(t->values);
    t->values = NULL;
    t->rows = t->cols = 0;
}

typedef struct parser {
    diag_ctx *d;
    diag_source src;
    double *vals;
    int64_t n, cap;
} parser;

static bool push(parser *p, double v) {
    if (p->n == p->cap) {
        int64_t cap = p->cap ? p->cap * 2 : 256;
        if ((uint64_t)cap > SIZE_MAX / sizeof(double)) return false;
        double *nv = realloc(p->vals, (size_t)cap * sizeof *nv);
        if (!nv) return false;
        p->vals = nv;
        p->cap = cap;
    }
    p->vals[p->n++] = v;
    return true;
}

static diag_loc at(parser *p, int line, int col) { return (diag_loc){&p->src, line, col}; }

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

/* Length of a field's text up to the next comma or end of line, without
 * trailing blanks (for messages). */
static int field_len(const char *s, const char *end) {
    const char *e = s;
    while (e < end && *e != ',') e++;
    while (e > s && is_blank(e[-1])) e--;
    return (int)(e - s);
}

/* Parses one data line [s, end) into p; returns the number of values or -1
 * after reporting an error. */
static int64_t parse_line(parser *p, const char *s, const char *end, int line) {
    const char *line_start = s;
    int64_t count = 0;
    for (;;) {
        while (s < end && is_blank(*s)) s++;
        int col = (int)(s - line_start) + 1;
        if (s == end || *s == ',') {
            diag_error(p->d, at(p, line, col), "empty field (value %" PRId64 " of the row)",
                       count + 1);
            return -1;
        }
        bool ok = *s == '+' || *s == '-' || *s == '.' || (*s >= '0' && *s <= '9');
        char buf[128];
        int flen = field_len(s, end);
        const char *after = s;
        double v = 0;
        if (ok && flen < (int)sizeof buf) {
            memcpy(buf, s, (size_t)flen);
            buf[flen] = '\0';
            /* strtod would accept "0x1p3", "-inf" and "nan": only plain
             * decimal notation is data. */
            ok = strpbrk(buf, "xXiInN") == NULL;
            char *stop;
            errno = 0;
            v = strtod(buf, &stop);
            ok = ok && stop == buf + flen && stop != buf;
            after = s + flen;
            if (ok && (!isfinite(v) || (errno == ERANGE && fabs(v) > 1.0))) {
                diag_error(p->d, at(p, line, col), "number '%s' is out of range", buf);
                return -1;
            }
        } else if (ok) {
            ok = false; /* a field this long is not a number we accept */
        }
        if (!ok) {
            int shown = flen > 40 ? 40 : flen;
            diag_error(p->d, at(p, line, col), "'%.*s%s' is not a number", shown, s,
                       flen > shown ? "..." : "");
            return -1;
        }
        if (!push(p, v)) {
            diag_error(p->d, (diag_loc){0}, "%s: out of memory", p->src.path);
            return -1;
        }
        count++;
        s = after;
        while (s < end && is_blank(*s)) s++;
        if (s == end) return count;
        s++; /* the comma */
    }
}

static bool parse(parser *p, csv_table *out) {
    const char *text = p->src.text;
    const char *s = text;
    /* A UTF-8 byte-order mark, as some spreadsheets write, is not data. */
    if ((unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF)
        s += 3;
    int line = 1;
    int64_t cols = -1, rows = 0;
    int first_cols_line = 0, blank_line = 0;
    for (; *s; line++) {
        const char *nl = strchr(s, '\n');
        const char *end = nl ? nl : s + strlen(s);
        const char *next = nl ? nl + 1 : end;
        if (end > s && end[-1] == '\r') end--;
        const char *q = s;
        while (q < end && (is_blank(*q) || *q == '\r')) q++;
        if (line == 1 && q < end && *q == '#') {
            s = next;
            continue;
        }
        if (q == end) {
            if (!blank_line) blank_line = line;
            s = next;
            continue;
        }
        if (blank_line) {
            diag_error(p->d, at(p, blank_line, 1), "blank line between data rows");
            return false;
        }
        int64_t n = parse_line(p, s, end, line);
        if (n < 0) return false;
        if (cols < 0) {
            cols = n;
            first_cols_line = line;
        } else if (n != cols) {
            diag_error(p->d, at(p, line, 1),
                       "row has %" PRId64 " value%s, expected %" PRId64 " (as on line %d)", n,
                       n == 1 ? "" : "s", cols, first_cols_line);
            return false;
        }
        rows++;
        s = next;
    }
    if (rows == 0) {
        diag_error(p->d, at(p, 1, 1), "empty file: no data rows");
        return false;
    }
    out->rows = rows;
    out->cols = cols;
    out->values = p->vals;
    p->vals = NULL;
    return true;
}

bool csv_parse(const char *path, const char *text, size_t len, diag_ctx *d, csv_table *out) {
    memset(out, 0, sizeof *out);
    char *copy = malloc(len + 1);
    if (!copy) {
        diag_error(d, (diag_loc){0}, "%s: out of memory", path);
        return false;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    parser p = {.d = d, .src = {path, copy}};
    bool ok;
    const char *nul = memchr(copy, '\0', len);
    if (nul) {
        int line = 1, col = 1;
        for (const char *c = copy; c < nul; c++) {
            if (*c == '\n') line++, col = 1;
            else col++;
        }
        diag_error(d, at(&p, line, col), "NUL byte in a CSV file");
        ok = false;
    } else {
        ok = parse(&p, out);
    }
    free(p.vals);
    free(copy);
    return ok;
}

bool csv_read(const char *path, diag_ctx *d, csv_table *out) {
    memset(out, 0, sizeof *out);
    bool std_in = !strcmp(path, "-"); /* "-" reads standard input */
    FILE *f = std_in ? stdin : fopen(path, "rb");
    if (std_in) path = "<stdin>";
    if (!f) {
        diag_error(d, (diag_loc){0}, "cannot open '%s': %s", path, strerror(errno));
        return false;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *nb = ncap > cap ? realloc(buf, ncap) : NULL;
            if (!nb) {
                free(buf);
                if (!std_in) fclose(f);
                diag_error(d, (diag_loc){0}, "%s: out of memory", path);
                return false;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    bool err = ferror(f);
    int saved = errno;
    if (!std_in) fclose(f);
    if (err) {
        free(buf);
        diag_error(d, (diag_loc){0}, "cannot read '%s': %s", path, strerror(saved));
        return false;
    }
    bool ok = csv_parse(path, buf, len, d, out);
    free(buf);
    return ok;
}
