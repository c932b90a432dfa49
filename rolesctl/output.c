/* SPDX-License-Identifier: MIT */
/* Listings as aligned tables or JSON; "show" as key: value lines or a JSON object. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static ssize_t out_buffer_append(void *cookie, const char *data, size_t n) {
        struct out_buffer *b = cookie;
        if (n > SIZE_MAX / 2 - b->len) {
                errno = ENOMEM;
                return -1;
        }
        if (b->len + n > b->size) {
                size_t size = b->size ? b->size : 4096;
                while (size < b->len + n)
                        size *= 2;
                char *grown = malloc(size);
                if (!grown)
                        return -1;
                if (b->data) {
                        memcpy(grown, b->data, b->len);
                        explicit_bzero(b->data, b->size);
                        free(b->data);
                }
                b->data = grown;
                b->size = size;
        }
        memcpy(b->data + b->len, data, n);
        b->len += n;
        return (ssize_t) n;
}

FILE *out_buffer_open(struct out_buffer *b) {
        *b = (struct out_buffer) { 0 };
        FILE *f = fopencookie(b, "w", (cookie_io_functions_t) { .write = out_buffer_append });
        if (f && setvbuf(f, NULL, _IONBF, 0) != 0) {
                fclose(f);
                return NULL;
        }
        return f;
}

int out_buffer_write(const struct out_buffer *b, int fd) {
        for (size_t done = 0; done < b->len;) {
                ssize_t n = write(fd, b->data + done, b->len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                done += (size_t) n;
        }
        return 0;
}

void out_buffer_free(struct out_buffer *b) {
        if (b->data) {
                explicit_bzero(b->data, b->size);
                free(b->data);
        }
        *b = (struct out_buffer) { 0 };
}

/* Display width of s as out_text() prints it (bytes; names are ASCII in practice). */
static size_t text_width(const char *s) {
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        if (!m)
                return strlen(s);
        out_text(m, s);
        fclose(m);
        free(buf);
        return len;
}

/* Rows gathered so a table can be aligned; cells are copies, NULL for no value. */
struct table {
        size_t n_cols, n_rows;
        char *names[ROLES_LISTING_COLUMNS_MAX];
        char **cells;           /* n_rows * n_cols */
        enum roles_cell *kinds; /* per cell */
};

static int collect_row(void *userdata, size_t n, const char *const *names, const char *const *values,
                       const enum roles_cell *kinds) {
        struct table *t = userdata;
        if (t->n_cols == 0) {
                t->n_cols = n;
                for (size_t i = 0; i < n; i++) {
                        t->names[i] = strdup(names[i]);
                        if (!t->names[i])
                                return -ENOMEM;
                }
        }
        char **cells = reallocarray(t->cells, (t->n_rows + 1) * n, sizeof(char *));
        if (!cells)
                return -ENOMEM;
        t->cells = cells;
        enum roles_cell *k = reallocarray(t->kinds, (t->n_rows + 1) * n, sizeof(*k));
        if (!k)
                return -ENOMEM;
        t->kinds = k;
        for (size_t i = 0; i < n; i++) {
                char *v = values[i] ? strdup(values[i]) : NULL;
                if (values[i] && !v)
                        return -ENOMEM;
                t->cells[t->n_rows * n + i] = v;
                t->kinds[t->n_rows * n + i] = kinds[i];
        }
        t->n_rows++;
        return 0;
}

static void table_free(struct table *t) {
        for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
                free(t->cells[i]);
        for (size_t i = 0; i < t->n_cols; i++)
                free(t->names[i]);
        free(t->cells);
        free(t->kinds);
}

static int table_load(struct cli *c, enum roles_listing what, const struct roles_list_filter *filter, struct table *t) {
        struct roles_snapshot *s;
        int r = cli_snapshot(c, what == ROLES_LIST_USER_SECRETS || what == ROLES_LIST_USER_STATE ||
                                what == ROLES_LIST_AUDIT || what == ROLES_LIST_LOGINS || what == ROLES_LIST_LOCKED ?
                                ROLES_SNAPSHOT_SECRETS : 0, &s);
        if (r != 0)
                return -EIO;
        r = roles_snapshot_list_filtered(s, what, filter, collect_row, t);
        return r < 0 ? r : 0;
}

/* "a,b" as ["a","b"]; no value as [], so that the field is an array in every row. Each item is
 * cut out of the cell in place (the table's own copy) and the comma put back. */
static void json_list(FILE *f, char *v) {
        fputc('[', f);
        for (char *p = v; p && *p;) {
                size_t n = strcspn(p, ",");
                char end = p[n];
                p[n] = '\0';
                if (p != v)
                        fputc(',', f);
                out_json_string(f, p);
                p[n] = end;
                p += n + (end == ',');
        }
        fputc(']', f);
}

static void json_row(FILE *f, const struct table *t, size_t row) {
        fputc('{', f);
        for (size_t i = 0; i < t->n_cols; i++) {
                char *v = t->cells[row * t->n_cols + i];
                if (i)
                        fputc(',', f);
                out_json_string(f, t->names[i]);
                fputc(':', f);
                enum roles_cell kind = t->kinds[row * t->n_cols + i];
                if (kind == ROLES_CELL_LIST)
                        json_list(f, v);
                else if (!v || kind == ROLES_CELL_NOTE)
                        fputs("null", f);
                else if (kind == ROLES_CELL_NUMBER)
                        fputs(v, f);
                else if (kind == ROLES_CELL_BOOL)
                        fputs(strcmp(v, "yes") == 0 ? "true" : "false", f);
                else
                        out_json_string(f, v);
        }
        fputc('}', f);
}

static void json_rows(FILE *f, const struct table *t) {
        fputc('[', f);
        for (size_t r = 0; r < t->n_rows; r++) {
                if (r)
                        fputc(',', f);
                json_row(f, t, r);
        }
        fputc(']', f);
}

static void text_table(FILE *f, const struct table *t, const char *indent) {
        size_t width[ROLES_LISTING_COLUMNS_MAX];
        for (size_t i = 0; i < t->n_cols; i++) {
                width[i] = strlen(t->names[i]);
                for (size_t r = 0; r < t->n_rows; r++) {
                        const char *v = t->cells[r * t->n_cols + i];
                        size_t n = v ? text_width(v) : 1;
                        if (n > width[i])
                                width[i] = n;
                }
        }
        for (size_t r = 0; r <= t->n_rows; r++) {
                fputs(indent, f);
                for (size_t i = 0; i < t->n_cols; i++) {
                        const char *v = r == 0 ? t->names[i] : t->cells[(r - 1) * t->n_cols + i];
                        const char *shown = v ? v : "-";
                        out_text(f, shown);
                        if (i + 1 < t->n_cols)
                                fprintf(f, "%*s", (int) (width[i] - text_width(shown) + 2), "");
                }
                fputc('\n', f);
        }
}

int out_list(struct cli *c, enum roles_listing what, const char *arg) {
        const struct roles_list_filter filter = { .arg = arg };
        return out_list_filtered(c, what, &filter);
}

/* A listing's rows, loaded whole, as an aligned table or a JSON array; the table is freed. */
static void print_list(struct cli *c, struct table *t) {
        if (c->json) {
                json_rows(c->out, t);
                fputc('\n', c->out);
        } else if (t->n_cols > 0)
                text_table(c->out, t, "");
        table_free(t);
}

int out_list_filtered(struct cli *c, enum roles_listing what, const struct roles_list_filter *filter) {
        struct table t = { 0 };
        int r = table_load(c, what, filter, &t);
        if (r < 0) {
                table_free(&t);
                return r == -EIO && !c->writer && !c->snapshot ? EXIT_ERROR : cli_fail_store(c, r);
        }
        print_list(c, &t);
        return EXIT_OK;
}

int out_list_fleet(struct cli *c, struct roles_fleet *f, enum roles_fleet_listing what,
                   const struct roles_list_filter *filter) {
        struct table t = { 0 };
        int r = roles_fleet_list(f, what, filter, collect_row, &t);
        if (r < 0) {
                table_free(&t);
                return cli_fail(EXIT_ERROR, "%s", roles_fleet_error(f));
        }
        print_list(c, &t);
        return EXIT_OK;
}

int out_show(struct cli *c, const struct out_section *sections, size_t n) {
        int r = EXIT_OK;
        if (c->json)
                fputc('{', c->out);
        for (size_t k = 0; k < n; k++) {
                struct table t = { 0 };
                const struct roles_list_filter filter = { .arg = sections[k].arg };
                int q = table_load(c, sections[k].what, &filter, &t);
                if (q < 0) {
                        table_free(&t);
                        r = q == -EIO && !c->writer && !c->snapshot ? EXIT_ERROR : cli_fail_store(c, q);
                        break;
                }
                if (c->json) {
                        if (k)
                                fputc(',', c->out);
                        out_json_string(c->out, sections[k].title);
                        fputc(':', c->out);
                        if (!sections[k].single)
                                json_rows(c->out, &t);
                        else if (t.n_rows > 0)
                                json_row(c->out, &t, 0);
                        else
                                fputs("null", c->out);
                } else if (sections[k].single) {
                        for (size_t i = 0; t.n_rows > 0 && i < t.n_cols; i++) {
                                fprintf(c->out, "%-26s ", t.names[i]);
                                out_text(c->out, t.cells[i] ? t.cells[i] : "-");
                                fputc('\n', c->out);
                        }
                } else {
                        fprintf(c->out, "%s:%s\n", sections[k].title, t.n_rows ? "" : " -");
                        if (t.n_rows)
                                text_table(c->out, &t, "  ");
                }
                table_free(&t);
        }
        if (c->json && r == EXIT_OK)
                fputs("}\n", c->out);
        return r;
}
