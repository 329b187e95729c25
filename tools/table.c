// table.c: CSV / JSON tables (table.h).
#include "table.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int table_init(table* t, int ncol, const char* const* names) {
  memset(t, 0, sizeof *t);
  t->cols = calloc((size_t)ncol, sizeof *t->cols);
  if (!t->cols) return -1;
  t->ncol = ncol;
  for (int i = 0; i < ncol; i++)
    if (!(t->cols[i] = strdup(names[i]))) return table_free(t), -1;
  return 0;
}

void table_free(table* t) {
  for (int i = 0; t->cols && i < t->ncol; i++) free(t->cols[i]);
  free(t->cols);
  am_buf_free(&t->cells);
  memset(t, 0, sizeof *t);
}

static void cell(table* t, char type, const char* text) {
  if (am_buf_append(&t->cells, &type, 1) || am_buf_append(&t->cells, text, strlen(text) + 1))
    t->oom = 1;
  if (++t->in_row == t->ncol) t->in_row = 0, t->rows++;
}

void table_num(table* t, double v) {
  char b[40] = "";
  if (isfinite(v)) snprintf(b, sizeof b, "%.9g", v);
  cell(t, 'n', b);
}

void table_int(table* t, long long v) {
  char b[32];
  snprintf(b, sizeof b, "%lld", v);
  cell(t, 'n', b);
}

void table_str(table* t, const char* s) { cell(t, 's', s ? s : ""); }

static int put(am_buf* o, const char* s) { return am_buf_append(o, s, strlen(s)); }

static int put_csv(am_buf* o, const char* s) {
  if (!strpbrk(s, ",\"\n\r")) return put(o, s);
  int rc = put(o, "\"");
  for (; *s; s++) rc |= *s == '"' ? put(o, "\"\"") : am_buf_append(o, s, 1);
  return rc | put(o, "\"");
}

int table_json_string(am_buf* o, const char* s) {
  int rc = put(o, "\"");
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    char b[8];
    if (c == '"' || c == '\\') b[0] = '\\', b[1] = (char)c, b[2] = 0;
    else if (c < 0x20) snprintf(b, sizeof b, "\\u%04x", c);
    else b[0] = (char)c, b[1] = 0;
    rc |= put(o, b);
  }
  return rc | put(o, "\"");
}

int table_json_number(am_buf* o, double v) {
  char t[32];
  snprintf(t, sizeof t, "%.15g", v);
  if (strtod(t, NULL) != v) snprintf(t, sizeof t, "%.17g", v);
  return put(o, isfinite(v) ? t : "null");
}

int table_render(const table* t, int json, am_buf* o) {
  int rc = 0;
  rc |= put(o, json ? "{\"columns\": [" : "");
  for (int i = 0; i < t->ncol; i++) {
    if (i) rc |= put(o, json ? ", " : ",");
    rc |= json ? table_json_string(o, t->cols[i]) : put_csv(o, t->cols[i]);
  }
  rc |= put(o, json ? "],\n \"data\": [" : "\n");
  const char* p = (const char*)t->cells.p;
  for (long r = 0; r < t->rows; r++) {
    if (json) rc |= put(o, r ? ",\n  [" : "\n  [");
    for (int i = 0; i < t->ncol; i++) {
      char type = *p++;
      if (i) rc |= put(o, json ? ", " : ",");
      if (json) rc |= type == 's' ? table_json_string(o, p) : put(o, *p ? p : "null");
      else rc |= put_csv(o, p);
      p += strlen(p) + 1;
    }
    rc |= put(o, json ? "]" : "\n");
  }
  if (json) rc |= put(o, "]}\n");
  return rc ? -1 : 0;
}

int table_write(const table* t, const char* path, char* err, size_t err_sz) {
  if (t->oom) return am_err(err, err_sz, "%s: out of memory building the table", path);
  if (t->in_row) return am_err(err, err_sz, "%s: the table's last row is unfinished", path);
  size_t n = strlen(path);
  int json = n >= 5 && !strcmp(path + n - 5, ".json");
  am_buf o = {0};
  if (table_render(t, json, &o)) {
    am_buf_free(&o);
    return am_err(err, err_sz, "%s: out of memory rendering the table", path);
  }
  int rc = am_write_file_atomic(path, o.p, o.len, err, err_sz);
  am_buf_free(&o);
  return rc;
}
